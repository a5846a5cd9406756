/* ukey module: key objects from the card's containers and the attribute policy table.
 *
 * Each SM2 key pair of a container gives a CKO_PRIVATE_KEY and a CKO_PUBLIC_KEY (PKCS#11
 * 3.0 §4.8-4.9, EC keys §6.3.3/§6.3.4 of the current mechanisms spec) with one CKA_ID =
 * SHA-1 of the 65-byte point. Handles encode (card epoch, slot, container, usage, class):
 * stable while the card stays in, never valid for another card. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "uk_wipe.h"
#include "ukm.h"

#define UKM_ATTR_MAX 128

enum { UKM_PUB = 1, UKM_PRIV = 2, UKM_BOTH = 3 };
enum { UKM_A_SENSITIVE = 1 };

struct ukm_attr_rule;
typedef size_t (*ukm_attr_fn)(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out);

struct ukm_attr_rule {
	CK_ATTRIBUTE_TYPE type;
	unsigned classes;
	unsigned flags;
	ukm_attr_fn get;
	CK_ULONG k;                     /* constant for the *_k getters */
};

static size_t ukm_put_ulong(uint8_t *out, CK_ULONG v)
{
	memcpy(out, &v, sizeof(v));
	return sizeof(v);
}

static size_t ukm_put_bool(uint8_t *out, int v)
{
	out[0] = v ? CK_TRUE : CK_FALSE;
	return 1;
}

static size_t ukm_attr_bool_k(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)o;
	return ukm_put_bool(out, r->k != 0);
}

static size_t ukm_attr_ulong_k(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)o;
	return ukm_put_ulong(out, r->k);
}

static size_t ukm_attr_empty(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)o, (void)r, (void)out;
	return 0;
}

static size_t ukm_attr_class(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	return ukm_put_ulong(out, o->cls);
}

static size_t ukm_attr_private(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	return ukm_put_bool(out, o->cls == CKO_PRIVATE_KEY);
}

/* CKA_SIGN/VERIFY on the signing pair, CKA_DECRYPT/ENCRYPT on the encryption pair:
 * k names the usage that turns the attribute on. */
static size_t ukm_attr_usage(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	return ukm_put_bool(out, (CK_ULONG)o->usage == r->k);
}

static size_t ukm_attr_label(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	memcpy(out, o->cont->name, o->cont->name_len);
	return o->cont->name_len;
}

static size_t ukm_attr_id(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	unsigned int n = 0;

	(void)r;
	if (EVP_Digest(o->point, UK_SM2_POINT_LEN, out, &n, EVP_sha1(), NULL) != 1)
		return 0;
	return n;
}

static size_t ukm_attr_ec_params(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)o, (void)r;
	memcpy(out, UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN);
	return UKEY_SM2_EC_PARAMS_LEN;
}

/* CKA_EC_POINT: DER OCTET STRING { 04 || X || Y } (PKCS#11 3.0 mechanisms §2.3.3). */
static size_t ukm_attr_ec_point(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	out[0] = 0x04;
	out[1] = UK_SM2_POINT_LEN;
	memcpy(out + 2, o->point, UK_SM2_POINT_LEN);
	return 2 + UK_SM2_POINT_LEN;
}

/* CKA_PUBLIC_KEY_INFO: the X.509 SubjectPublicKeyInfo, encoded by OpenSSL. */
static size_t ukm_attr_spki(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	EVP_PKEY *k = uk_sm2_from_public(o->point);
	uint8_t *p = out;
	int n;

	(void)r;
	if (k == NULL)
		return 0;
	n = i2d_PUBKEY(k, NULL);
	if (n > 0 && n <= UKM_ATTR_MAX)
		n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	return n > 0 && n <= UKM_ATTR_MAX ? (size_t)n : 0;
}

static size_t ukm_attr_mechs(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	const CK_MECHANISM_TYPE m[2] = { CKM_UKEY_SM2, CKM_UKEY_SM2_SM3 };

	(void)o, (void)r;
	memcpy(out, m, sizeof(m));
	return sizeof(m);
}

/* The attribute policy: which attributes each class has, and which are secret. */
static const struct ukm_attr_rule ukm_attr_rules[] = {
	/* common storage / key attributes (PKCS#11 3.0 §4.4, §4.7) */
	{ CKA_CLASS, UKM_BOTH, 0, ukm_attr_class, 0 },
	{ CKA_TOKEN, UKM_BOTH, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_PRIVATE, UKM_BOTH, 0, ukm_attr_private, 0 },
	{ CKA_MODIFIABLE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_COPYABLE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_DESTROYABLE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_LABEL, UKM_BOTH, 0, ukm_attr_label, 0 },
	{ CKA_KEY_TYPE, UKM_BOTH, 0, ukm_attr_ulong_k, CKK_EC },
	{ CKA_ID, UKM_BOTH, 0, ukm_attr_id, 0 },
	{ CKA_START_DATE, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_END_DATE, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_DERIVE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_LOCAL, UKM_BOTH, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_KEY_GEN_MECHANISM, UKM_BOTH, 0, ukm_attr_ulong_k, CKM_EC_KEY_PAIR_GEN },
	{ CKA_ALLOWED_MECHANISMS, UKM_BOTH, 0, ukm_attr_mechs, 0 },
	{ CKA_SUBJECT, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_PUBLIC_KEY_INFO, UKM_BOTH, 0, ukm_attr_spki, 0 },
	/* EC (§2.3.3/§2.3.4 of the mechanisms spec); the point also on the private key */
	{ CKA_EC_PARAMS, UKM_BOTH, 0, ukm_attr_ec_params, 0 },
	{ CKA_EC_POINT, UKM_BOTH, 0, ukm_attr_ec_point, 0 },
	/* public key (§4.8) */
	{ CKA_ENCRYPT, UKM_PUB, 0, ukm_attr_usage, UKM_USAGE_ENC },
	{ CKA_VERIFY, UKM_PUB, 0, ukm_attr_usage, UKM_USAGE_SIGN },
	{ CKA_VERIFY_RECOVER, UKM_PUB, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_WRAP, UKM_PUB, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_TRUSTED, UKM_PUB, 0, ukm_attr_bool_k, CK_FALSE },
	/* private key (§4.9) */
	{ CKA_SENSITIVE, UKM_PRIV, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_DECRYPT, UKM_PRIV, 0, ukm_attr_usage, UKM_USAGE_ENC },
	{ CKA_SIGN, UKM_PRIV, 0, ukm_attr_usage, UKM_USAGE_SIGN },
	{ CKA_SIGN_RECOVER, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_UNWRAP, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_EXTRACTABLE, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_ALWAYS_SENSITIVE, UKM_PRIV, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_NEVER_EXTRACTABLE, UKM_PRIV, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_WRAP_WITH_TRUSTED, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_ALWAYS_AUTHENTICATE, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	/* the secret value: never revealed (CKA_SENSITIVE TRUE, CKA_EXTRACTABLE FALSE) */
	{ CKA_VALUE, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
};

static const struct ukm_attr_rule *ukm_attr_rule_for(const ukm_object *o, CK_ATTRIBUTE_TYPE t)
{
	unsigned cls = o->cls == CKO_PRIVATE_KEY ? UKM_PRIV : UKM_PUB;
	size_t i;

	for (i = 0; i < sizeof(ukm_attr_rules) / sizeof(ukm_attr_rules[0]); i++)
		if (ukm_attr_rules[i].type == t && (ukm_attr_rules[i].classes & cls))
			return &ukm_attr_rules[i];
	return NULL;
}

CK_RV ukm_object_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                      size_t *len)
{
	const struct ukm_attr_rule *r = ukm_attr_rule_for(o, type);
	uint8_t tmp[UKM_ATTR_MAX];
	size_t n;

	*len = 0;
	if (r == NULL)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (r->flags & UKM_A_SENSITIVE)
		return CKR_ATTRIBUTE_SENSITIVE;
	n = r->get(o, r, tmp);
	*len = n;
	if (buf == NULL)
		return CKR_OK;
	if (cap < n)
		return CKR_BUFFER_TOO_SMALL;
	memcpy(buf, tmp, n);
	return CKR_OK;
}

/* PKCS#11 2.40 §5.7.5 C_GetAttributeValue: every attribute is processed; unavailable ones
 * get CK_UNAVAILABLE_INFORMATION and one of the matching errors is returned. */
CK_RV ukm_object_get_attributes(const ukm_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = CKR_OK, r;
	size_t len;
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		r = ukm_object_attr(o, t[i].type, t[i].pValue, t[i].ulValueLen, &len);
		if (r == CKR_OK) {
			t[i].ulValueLen = len;
			continue;
		}
		t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
		rv = r;
	}
	return rv;
}

CK_OBJECT_HANDLE ukm_object_handle(const ukm_slot *s, unsigned ci, int usage, int priv)
{
	return ((CK_OBJECT_HANDLE)s->epoch << 24) | ((CK_OBJECT_HANDLE)(s->id & 0xFFFF) << 8) |
	       (CK_OBJECT_HANDLE)(ci << 2) | (CK_OBJECT_HANDLE)(usage << 1) |
	       (CK_OBJECT_HANDLE)(priv != 0);
}

static int ukm_object_make(ukm_slot *s, unsigned ci, int usage, int priv, ukm_object *o)
{
	const ukm_container *c = &s->cache.cont[ci];
	const ukm_keypair *kp = &c->pair[usage];

	if (!s->cache.have_containers || !c->present || !kp->present || kp->alg != UKM_ALG_SM2)
		return -1;
	if (priv && s->login != UKM_LOGIN_USER)
		return -1;          /* private objects exist for the user only (§4.4 CKA_PRIVATE) */
	o->handle = ukm_object_handle(s, ci, usage, priv);
	o->cls = priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
	o->usage = usage;
	o->cont = c;
	o->point = kp->point;
	return 0;
}

CK_RV ukm_object_find(ukm_slot *s, CK_OBJECT_HANDLE h, ukm_object *o)
{
	unsigned ci = (unsigned)(h >> 2) & 0x0F;

	if ((h >> 24) != s->epoch || ((h >> 8) & 0xFFFF) != (s->id & 0xFFFF) ||
	    ((h >> 6) & 0x03) != 0)
		return CKR_OBJECT_HANDLE_INVALID;
	if (ukm_object_make(s, ci, (int)(h >> 1) & 1, (int)(h & 1), o) != 0)
		return CKR_OBJECT_HANDLE_INVALID;
	return CKR_OK;
}

static int ukm_object_matches(const ukm_object *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	uint8_t v[UKM_ATTR_MAX];
	size_t len;
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		if (ukm_object_attr(o, tmpl[i].type, v, sizeof(v), &len) != CKR_OK)
			return 0;
		if (len != tmpl[i].ulValueLen || (len > 0 && memcmp(v, tmpl[i].pValue, len) != 0))
			return 0;
	}
	return 1;
}

size_t ukm_object_match(ukm_slot *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out,
                        size_t cap)
{
	ukm_object o;
	size_t count = 0;
	unsigned ci;
	int usage, priv;

	for (ci = 0; ci < UKM_MAX_CONTAINERS; ci++)
		for (usage = 0; usage < 2; usage++)
			for (priv = 1; priv >= 0; priv--)
				if (count < cap && ukm_object_make(s, ci, usage, priv, &o) == 0 &&
				    ukm_object_matches(&o, tmpl, n))
					out[count++] = o.handle;
	return count;
}
