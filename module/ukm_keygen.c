/* ukey module: C_GenerateKeyPair (PKCS#11 2.40 §5.14.2) with CKM_EC_KEY_PAIR_GEN on the SM2
 * curve or P-256 (mechanisms §2.3.5) and CKM_RSA_PKCS_KEY_PAIR_GEN for RSA-2048 with
 * e = 65537 (mechanisms §2.1.4), the card's algorithms 01, 02, 03 (docs/apdu.md). The container is named by CKA_LABEL; CREATE CONTAINER
 * (if new) and GENERATE run in one PC/SC transaction so no other client interleaves.
 * Template attributes not listed in the table below are accepted and ignored (the
 * object's attributes are fixed by the policy table of ukm_object.c). */
#include <stdio.h>
#include <string.h>

#include "ukm.h"

static const uint8_t ukm_p256_oid[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };

struct ukm_keygen_req {
	int have_params;
	uint8_t alg;                    /* from CKA_EC_PARAMS (EC) */
	CK_ULONG bits;                  /* CKA_MODULUS_BITS (RSA); 0 absent */
	int key_rsa, key_ec;            /* CKA_KEY_TYPE given */
	const char *label;
	size_t label_len;
	int want_sign, want_enc, no_sign;
	int always_auth;                /* CKA_ALWAYS_AUTHENTICATE TRUE (private template) */
};

typedef CK_RV (*ukm_tmpl_fn)(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls,
                             struct ukm_keygen_req *q);

static int ukm_tmpl_bool(const CK_ATTRIBUTE *a, int *v)
{
	if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
		return -1;
	*v = *(const CK_BBOOL *)a->pValue != CK_FALSE;
	return 0;
}

static int ukm_tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v)
{
	if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
		return -1;
	memcpy(v, a->pValue, sizeof(*v));
	return 0;
}

/* CKA_EC_PARAMS: the SM2 or P-256 namedCurve OID; another well-formed OID is an
 * unsupported curve. */
static CK_RV ukm_tmpl_params(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	const uint8_t *v = a->pValue;

	(void)cls;
	if (v == NULL || a->ulValueLen < 2)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (a->ulValueLen == UKEY_SM2_EC_PARAMS_LEN &&
	    memcmp(v, UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN) == 0) {
		q->have_params = 1;
		q->alg = UKM_ALG_SM2;
		return CKR_OK;
	}
	if (a->ulValueLen == sizeof(ukm_p256_oid) &&
	    memcmp(v, ukm_p256_oid, sizeof(ukm_p256_oid)) == 0) {
		q->have_params = 1;
		q->alg = UKM_ALG_P256;
		return CKR_OK;
	}
	if (v[0] == 0x06 && v[1] + 2u == a->ulValueLen)
		return CKR_CURVE_NOT_SUPPORTED;
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV ukm_tmpl_label(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	(void)cls;
	if (a->pValue == NULL || a->ulValueLen == 0 || a->ulValueLen > UKM_NAME_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (q->label != NULL &&
	    (q->label_len != a->ulValueLen || memcmp(q->label, a->pValue, q->label_len) != 0))
		return CKR_TEMPLATE_INCONSISTENT;       /* the pair shares one container name */
	q->label = a->pValue;
	q->label_len = a->ulValueLen;
	return CKR_OK;
}

static CK_RV ukm_tmpl_class(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	CK_ULONG v;

	(void)q;
	if (ukm_tmpl_ulong(a, &v) != 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return v == cls ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

static CK_RV ukm_tmpl_key_type(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls,
                               struct ukm_keygen_req *q)
{
	CK_ULONG v;

	(void)cls;
	if (ukm_tmpl_ulong(a, &v) != 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (v == CKK_EC)
		q->key_ec = 1;
	else if (v == CKK_RSA)
		q->key_rsa = 1;
	else
		return CKR_TEMPLATE_INCONSISTENT;
	return CKR_OK;
}

/* CKA_MODULUS_BITS: the card makes RSA-2048 only. */
static CK_RV ukm_tmpl_bits(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	(void)cls;
	if (ukm_tmpl_ulong(a, &q->bits) != 0 || q->bits != UKM_RSA_LEN * 8)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

/* CKA_PUBLIC_EXPONENT: big endian, leading zeros allowed; the card uses 65537 only. */
static CK_RV ukm_tmpl_exponent(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls,
                               struct ukm_keygen_req *q)
{
	const uint8_t *v = a->pValue;
	CK_ULONG i, e = 0;

	(void)cls, (void)q;
	if (v == NULL || a->ulValueLen == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	for (i = 0; i < a->ulValueLen; i++) {
		if (e > 0xFFFFFF)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		e = (e << 8) | v[i];
	}
	return e == 65537 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* Only token objects: the key lives in the card. */
static CK_RV ukm_tmpl_token(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	int v;

	(void)cls, (void)q;
	if (ukm_tmpl_bool(a, &v) != 0 || !v)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

static CK_RV ukm_tmpl_sign(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	int v;

	(void)cls;
	if (ukm_tmpl_bool(a, &v) != 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (v)
		q->want_sign = 1;
	else
		q->no_sign = 1;
	return CKR_OK;
}

static CK_RV ukm_tmpl_enc(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct ukm_keygen_req *q)
{
	int v;

	(void)cls;
	if (ukm_tmpl_bool(a, &v) != 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (v)
		q->want_enc = 1;
	return CKR_OK;
}

/* CKA_ALWAYS_AUTHENTICATE (PKCS#11 3.0 §4.9): GENERATE's 81 01 01 (docs/apdu.md). */
static CK_RV ukm_tmpl_always_auth(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls,
                                  struct ukm_keygen_req *q)
{
	(void)cls;
	return ukm_tmpl_bool(a, &q->always_auth) == 0 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

static const struct {
	CK_ATTRIBUTE_TYPE type;
	CK_OBJECT_CLASS cls;            /* which template may carry it */
	ukm_tmpl_fn fn;
} ukm_tmpl_rules[] = {
	{ CKA_EC_PARAMS, CKO_PUBLIC_KEY, ukm_tmpl_params },
	{ CKA_MODULUS_BITS, CKO_PUBLIC_KEY, ukm_tmpl_bits },
	{ CKA_PUBLIC_EXPONENT, CKO_PUBLIC_KEY, ukm_tmpl_exponent },
	{ CKA_LABEL, CKO_PUBLIC_KEY, ukm_tmpl_label },
	{ CKA_LABEL, CKO_PRIVATE_KEY, ukm_tmpl_label },
	{ CKA_CLASS, CKO_PUBLIC_KEY, ukm_tmpl_class },
	{ CKA_CLASS, CKO_PRIVATE_KEY, ukm_tmpl_class },
	{ CKA_KEY_TYPE, CKO_PUBLIC_KEY, ukm_tmpl_key_type },
	{ CKA_KEY_TYPE, CKO_PRIVATE_KEY, ukm_tmpl_key_type },
	{ CKA_TOKEN, CKO_PUBLIC_KEY, ukm_tmpl_token },
	{ CKA_TOKEN, CKO_PRIVATE_KEY, ukm_tmpl_token },
	{ CKA_VERIFY, CKO_PUBLIC_KEY, ukm_tmpl_sign },
	{ CKA_SIGN, CKO_PRIVATE_KEY, ukm_tmpl_sign },
	{ CKA_ENCRYPT, CKO_PUBLIC_KEY, ukm_tmpl_enc },
	{ CKA_DECRYPT, CKO_PRIVATE_KEY, ukm_tmpl_enc },
	{ CKA_ALWAYS_AUTHENTICATE, CKO_PRIVATE_KEY, ukm_tmpl_always_auth },
};

static CK_RV ukm_keygen_template(CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_CLASS cls,
                                 struct ukm_keygen_req *q)
{
	CK_ULONG i;
	size_t j;
	CK_RV rv;

	if (t == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(ukm_tmpl_rules) / sizeof(ukm_tmpl_rules[0]); j++) {
			if (ukm_tmpl_rules[j].type != t[i].type || ukm_tmpl_rules[j].cls != cls)
				continue;
			if ((rv = ukm_tmpl_rules[j].fn(&t[i], cls, q)) != CKR_OK)
				return rv;
		}
	}
	return CKR_OK;
}

static int ukm_keygen_find(const ukm_slot *s, const char *name, size_t len)
{
	int i;

	for (i = 0; i < UKM_MAX_CONTAINERS; i++)
		if (s->cache.cont[i].present && s->cache.cont[i].name_len == len &&
		    memcmp(s->cache.cont[i].name, name, len) == 0)
			return i;
	return -1;
}

/* Default container name "ukey-N", N the first number not already taken. */
static void ukm_keygen_default_name(const ukm_slot *s, char *buf, size_t cap, size_t *len)
{
	int n, w;

	for (n = 0; n < 1000; n++) {
		w = snprintf(buf, cap, "ukey-%d", n);
		*len = (size_t)w;
		if (ukm_keygen_find(s, buf, *len) < 0)
			return;
	}
}

/* CREATE CONTAINER if needed, then GENERATE, inside one SCardBeginTransaction. */
static CK_RV ukm_keygen_card(ukm_slot *s, const char *name, size_t len, int exist, int usage,
                             const struct ukm_keygen_req *q, uint8_t *index)
{
	static uint8_t resp[512];       /* the public-key template; re-read with GET DATA 02 */
	uint8_t payload[6] = { 0x80, 0x01, q->alg, 0x81, 0x01, 0x01 };
	size_t got = 0;
	CK_RV rv;

	if ((rv = ukm_card_open(s)) != CKR_OK)
		return rv;
	if (SCardBeginTransaction(s->card) != SCARD_S_SUCCESS)
		return CKR_DEVICE_ERROR;
	if (exist >= 0)
		*index = (uint8_t)exist;
	else
		rv = ukm_secure_create_container(s, name, len, index);
	if (rv == CKR_OK)
		/* ISO 7816-8 §5.1 GENERATE: 04 46 80 KR {80 01 alg [81 01 01 always
		 * authenticate]}, extended Le (RSA: 270) */
		rv = ukm_secured(s, 0x04, 0x46, 0x80, (uint8_t)(*index * 2 + usage), payload,
		                 q->always_auth ? 6 : 3, 65536, resp, sizeof(resp), &got);
	if (s->connected)
		SCardEndTransaction(s->card, SCARD_LEAVE_CARD);
	return rv;
}

/* The mechanism against the templates: EC needs CKA_EC_PARAMS and no RSA attribute, RSA
 * needs CKA_MODULUS_BITS (§2.1.4: required) and no EC_PARAMS; CKA_KEY_TYPE must agree. */
static CK_RV ukm_keygen_kind(CK_MECHANISM_TYPE mech, struct ukm_keygen_req *q)
{
	if (mech == CKM_EC_KEY_PAIR_GEN) {
		if (q->key_rsa || q->bits != 0)
			return CKR_TEMPLATE_INCONSISTENT;
		return q->have_params ? CKR_OK : CKR_TEMPLATE_INCOMPLETE;
	}
	if (q->key_ec || q->have_params)
		return CKR_TEMPLATE_INCONSISTENT;
	if (q->bits == 0)
		return CKR_TEMPLATE_INCOMPLETE;
	q->alg = UKM_ALG_RSA;
	return CKR_OK;
}

CK_RV ukm_keygen(ukm_slot *s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                 CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
                 CK_OBJECT_HANDLE_PTR hpriv)
{
	struct ukm_keygen_req q = { 0 };
	char defname[16];
	uint8_t index = 0;
	int usage, exist;
	CK_RV rv;

	if (m->mechanism != CKM_EC_KEY_PAIR_GEN && m->mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN)
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((rv = ukm_keygen_template(pub, npub, CKO_PUBLIC_KEY, &q)) != CKR_OK ||
	    (rv = ukm_keygen_template(priv, npriv, CKO_PRIVATE_KEY, &q)) != CKR_OK)
		return rv;
	if ((rv = ukm_keygen_kind(m->mechanism, &q)) != CKR_OK)
		return rv;
	if (q.want_sign && q.want_enc)
		return CKR_TEMPLATE_INCONSISTENT;       /* a container pair does one job */
	usage = q.want_enc || q.no_sign ? UKM_USAGE_ENC : UKM_USAGE_SIGN;
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if ((rv = ukm_card_load(s)) != CKR_OK)
		return rv;
	if (q.label == NULL) {
		ukm_keygen_default_name(s, defname, sizeof(defname), &q.label_len);
		q.label = defname;
	}
	exist = ukm_keygen_find(s, q.label, q.label_len);
	rv = ukm_keygen_card(s, q.label, q.label_len, exist, usage, &q, &index);
	/* Our own write: the cached container list is stale whatever happened. */
	s->cache.have_containers = 0;
	if (rv != CKR_OK)
		return rv;
	if ((rv = ukm_card_load_containers(s)) != CKR_OK)
		return rv;
	*hpub = ukm_object_handle(s, index, usage, 0);
	*hpriv = ukm_object_handle(s, index, usage, 1);
	return CKR_OK;
}
