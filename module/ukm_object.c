/* ukey module: key objects from the card's containers and the attribute policy table.
 *
 * Each key pair of a container (SM2, P-256, RSA-2048) gives a CKO_PRIVATE_KEY and a
 * CKO_PUBLIC_KEY (PKCS#11 3.0 §4.8-4.9; EC keys mechanisms §2.3.3/§2.3.4, RSA §2.1.2/§2.1.3)
 * with one CKA_ID = SHA-1 of the 65-byte point or of the modulus. Handles encode (card epoch, slot, container, usage, class):
 * stable while the card stays in, never valid for another card. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "uk_wipe.h"
#include "ukm.h"

#define UKM_ATTR_MAX 512        /* an RSA-2048 SubjectPublicKeyInfo is 294 bytes */
/* A getter's answer for an attribute this object's key type does not have. */
#define UKM_ATTR_NONE ((size_t)-1)

static const uint8_t ukm_p256_params[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };

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

/* Kept for the constant CK_ULONG rows of other object kinds. */
__attribute__((unused))
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

static int ukm_is_rsa(const ukm_object *o)
{
	return o->kp->alg == UKM_ALG_RSA;
}

/* CKA_ID: SHA-1 of the EC point 04||X||Y, or of the RSA modulus (as OpenSC and most
 * middleware derive it), so a certificate written later can carry the same ID. */
static size_t ukm_attr_id(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	unsigned int n = 0;
	int rsa = ukm_is_rsa(o);

	(void)r;
	if (EVP_Digest(rsa ? o->kp->n : o->kp->point, rsa ? UKM_RSA_LEN : UK_SM2_POINT_LEN, out,
	               &n, EVP_sha1(), NULL) != 1)
		return 0;
	return n;
}

static size_t ukm_attr_key_type(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	return ukm_put_ulong(out, ukm_is_rsa(o) ? CKK_RSA : CKK_EC);
}

static size_t ukm_attr_gen_mech(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	return ukm_put_ulong(out, ukm_is_rsa(o) ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN);
}

/* CKA_EC_PARAMS: the namedCurve OID (SM2 1.2.156.10197.1.301, P-256 1.2.840.10045.3.1.7). */
static size_t ukm_attr_ec_params(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	if (ukm_is_rsa(o))
		return UKM_ATTR_NONE;
	if (o->kp->alg == UKM_ALG_P256) {
		memcpy(out, ukm_p256_params, sizeof(ukm_p256_params));
		return sizeof(ukm_p256_params);
	}
	memcpy(out, UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN);
	return UKEY_SM2_EC_PARAMS_LEN;
}

/* RSA public values (PKCS#11 3.0 mechanisms §2.1.2/§2.1.3): big-endian, no leading zeros. */
static size_t ukm_attr_modulus(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	if (!ukm_is_rsa(o))
		return UKM_ATTR_NONE;
	memcpy(out, o->kp->n, UKM_RSA_LEN);
	return UKM_RSA_LEN;
}

static size_t ukm_attr_exponent(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	size_t skip = 0;

	(void)r;
	if (!ukm_is_rsa(o))
		return UKM_ATTR_NONE;
	while (skip < sizeof(o->kp->e) - 1 && o->kp->e[skip] == 0)
		skip++;
	memcpy(out, o->kp->e + skip, sizeof(o->kp->e) - skip);
	return sizeof(o->kp->e) - skip;
}

static size_t ukm_attr_modulus_bits(const ukm_object *o, const struct ukm_attr_rule *r,
                                    uint8_t *out)
{
	(void)r;
	if (!ukm_is_rsa(o))
		return UKM_ATTR_NONE;
	return ukm_put_ulong(out, UKM_RSA_LEN * 8);
}

/* CKA_EC_POINT: DER OCTET STRING { 04 || X || Y } (PKCS#11 3.0 mechanisms §2.3.3). */
static size_t ukm_attr_ec_point(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	if (ukm_is_rsa(o))
		return UKM_ATTR_NONE;
	out[0] = 0x04;
	out[1] = UK_SM2_POINT_LEN;
	memcpy(out + 2, o->point, UK_SM2_POINT_LEN);
	return 2 + UK_SM2_POINT_LEN;
}

/* CKA_PUBLIC_KEY_INFO: the X.509 SubjectPublicKeyInfo, encoded by OpenSSL. */
static size_t ukm_attr_spki(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	EVP_PKEY *k = ukm_kp_pkey(o->kp);
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
	CK_MECHANISM_TYPE m[UKM_ATTR_MAX / sizeof(CK_MECHANISM_TYPE)];
	size_t n = ukm_mech_for_alg(o->kp->alg, m, sizeof(m) / sizeof(m[0]));

	(void)r;
	memcpy(out, m, n * sizeof(m[0]));
	return n * sizeof(m[0]);
}

/* CKA_DESTROYABLE (PKCS#11 3.0 §4.4): as C_DestroyObject behaves (ukm_data.c): a key goes
 * with its container, so only when the container holds no other pair. */
static size_t ukm_attr_destroyable(const ukm_object *o, const struct ukm_attr_rule *r,
                                   uint8_t *out)
{
	(void)r;
	return ukm_put_bool(out, !o->cont->pair[o->usage ^ 1].present);
}

/* CKA_ALWAYS_AUTHENTICATE (§4.9): the card's flag of the pair (GET DATA 02 tag 82). */
static size_t ukm_attr_always_auth(const ukm_object *o, const struct ukm_attr_rule *r,
                                   uint8_t *out)
{
	(void)r;
	return ukm_put_bool(out, o->kp->always_auth != 0);
}

/* CKA_UNWRAP: an SM2 private key unwraps (ukm_unwrap.c): the signing pair opens the CA's
 * envelope of the encryption pair, the encryption pair SM4 session keys. */
static size_t ukm_attr_unwrap(const ukm_object *o, const struct ukm_attr_rule *r, uint8_t *out)
{
	(void)r;
	return ukm_put_bool(out, o->kp->alg == UKM_ALG_SM2);
}

/* The attribute policy: which attributes each class has, and which are secret. */
static const struct ukm_attr_rule ukm_attr_rules[] = {
	/* common storage / key attributes (PKCS#11 3.0 §4.4, §4.7) */
	{ CKA_CLASS, UKM_BOTH, 0, ukm_attr_class, 0 },
	{ CKA_TOKEN, UKM_BOTH, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_PRIVATE, UKM_BOTH, 0, ukm_attr_private, 0 },
	{ CKA_MODIFIABLE, UKM_BOTH, 0, ukm_attr_bool_k, CK_TRUE },  /* CKA_LABEL (ukm_setattr.c) */
	{ CKA_COPYABLE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_DESTROYABLE, UKM_BOTH, 0, ukm_attr_destroyable, 0 },
	{ CKA_LABEL, UKM_BOTH, 0, ukm_attr_label, 0 },
	{ CKA_KEY_TYPE, UKM_BOTH, 0, ukm_attr_key_type, 0 },
	{ CKA_ID, UKM_BOTH, 0, ukm_attr_id, 0 },
	{ CKA_START_DATE, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_END_DATE, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_DERIVE, UKM_BOTH, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_LOCAL, UKM_BOTH, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_KEY_GEN_MECHANISM, UKM_BOTH, 0, ukm_attr_gen_mech, 0 },
	{ CKA_ALLOWED_MECHANISMS, UKM_BOTH, 0, ukm_attr_mechs, 0 },
	{ CKA_SUBJECT, UKM_BOTH, 0, ukm_attr_empty, 0 },
	{ CKA_PUBLIC_KEY_INFO, UKM_BOTH, 0, ukm_attr_spki, 0 },
	/* EC (§2.3.3/§2.3.4 of the mechanisms spec); the point also on the private key */
	{ CKA_EC_PARAMS, UKM_BOTH, 0, ukm_attr_ec_params, 0 },
	{ CKA_EC_POINT, UKM_BOTH, 0, ukm_attr_ec_point, 0 },
	/* RSA (§2.1.2/§2.1.3); the public values also on the private key */
	{ CKA_MODULUS, UKM_BOTH, 0, ukm_attr_modulus, 0 },
	{ CKA_PUBLIC_EXPONENT, UKM_BOTH, 0, ukm_attr_exponent, 0 },
	{ CKA_MODULUS_BITS, UKM_PUB, 0, ukm_attr_modulus_bits, 0 },
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
	{ CKA_UNWRAP, UKM_PRIV, 0, ukm_attr_unwrap, 0 },
	{ CKA_EXTRACTABLE, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_ALWAYS_SENSITIVE, UKM_PRIV, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_NEVER_EXTRACTABLE, UKM_PRIV, 0, ukm_attr_bool_k, CK_TRUE },
	{ CKA_WRAP_WITH_TRUSTED, UKM_PRIV, 0, ukm_attr_bool_k, CK_FALSE },
	{ CKA_ALWAYS_AUTHENTICATE, UKM_PRIV, 0, ukm_attr_always_auth, 0 },
	/* the secret value: never revealed (CKA_SENSITIVE TRUE, CKA_EXTRACTABLE FALSE) */
	{ CKA_VALUE, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_PRIVATE_EXPONENT, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_PRIME_1, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_PRIME_2, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_EXPONENT_1, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_EXPONENT_2, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
	{ CKA_COEFFICIENT, UKM_PRIV, UKM_A_SENSITIVE, ukm_attr_empty, 0 },
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
	const struct ukm_attr_rule *r;
	uint8_t tmp[UKM_ATTR_MAX];
	size_t n;

	/* objects kept in card files have their own rules (ukm_cert.c, ukm_data.c) */
	if (o->cls == CKO_CERTIFICATE)
		return ukm_cert_attr(o, type, buf, cap, len);
	if (o->cls == CKO_DATA)
		return ukm_data_attr(o, type, buf, cap, len);
	if (o->cls == CKO_SECRET_KEY)
		return ukm_skey_attr(o, type, buf, cap, len);
	r = ukm_attr_rule_for(o, type);
	*len = 0;
	if (r == NULL)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (r->flags & UKM_A_SENSITIVE)
		return CKR_ATTRIBUTE_SENSITIVE;
	n = r->get(o, r, tmp);
	if (n == UKM_ATTR_NONE)
		return CKR_ATTRIBUTE_TYPE_INVALID;
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

	if (!s->cache.have_containers || !c->present || !kp->present)
		return -1;
	if (priv && s->login != UKM_LOGIN_USER)
		return -1;          /* private objects exist for the user only (§4.4 CKA_PRIVATE) */
	o->handle = ukm_object_handle(s, ci, usage, priv);
	o->cls = priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
	o->usage = usage;
	o->cont = c;
	o->point = kp->point;
	o->kp = kp;
	return 0;
}

CK_RV ukm_object_find(ukm_slot *s, CK_OBJECT_HANDLE h, ukm_object *o)
{
	unsigned ci = (unsigned)(h >> 2) & 0x0F;

	unsigned kind = (unsigned)(h >> 6) & 0x03;
	int r;

	if ((h >> 24) != s->epoch || ((h >> 8) & 0xFFFF) != (s->id & 0xFFFF))
		return CKR_OBJECT_HANDLE_INVALID;
	if (kind != UKM_KIND_KEY) {
		r = kind == UKM_KIND_CERT ? ukm_cert_make(s, (unsigned)h & 0x3F, o) :
		    kind == UKM_KIND_DATA ? ukm_data_make(s, (unsigned)h & 0x3F, o) :
		                            ukm_skey_make(s, (unsigned)h & 0x3F, o);
		return r == 0 ? CKR_OK : CKR_OBJECT_HANDLE_INVALID;
	}
	if (ukm_object_make(s, ci, (int)(h >> 1) & 1, (int)(h & 1), o) != 0)
		return CKR_OBJECT_HANDLE_INVALID;
	return CKR_OK;
}

/* One template attribute against the object: the length first (a certificate's or data
 * file's value is read only when the lengths agree), then the bytes. */
static int ukm_object_matches_one(const ukm_object *o, const CK_ATTRIBUTE *t)
{
	uint8_t v[UKM_ATTR_MAX], *p = v;
	size_t len;
	int same;

	if (ukm_object_attr(o, t->type, NULL, 0, &len) != CKR_OK || len != t->ulValueLen)
		return 0;
	if (len == 0)
		return 1;
	if (len > sizeof(v) && (p = malloc(len)) == NULL)
		return 0;
	same = ukm_object_attr(o, t->type, p, len, &len) == CKR_OK && len == t->ulValueLen &&
	       memcmp(p, t->pValue, len) == 0;
	if (p != v)
		free(p);
	return same;
}

static int ukm_object_matches(const ukm_object *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (!ukm_object_matches_one(o, &tmpl[i]))
			return 0;
	return 1;
}

struct ukm_match_arg {
	CK_ATTRIBUTE_PTR tmpl;
	CK_ULONG n;
};

static int ukm_object_matches_cb(const ukm_object *o, void *arg)
{
	const struct ukm_match_arg *a = arg;

	return ukm_object_matches(o, a->tmpl, a->n);
}

size_t ukm_object_match(ukm_slot *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out,
                        size_t cap)
{
	struct ukm_match_arg arg = { tmpl, n };
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
	/* certificates C0 KR, then data files D0 nn (ukm_cert.c, ukm_data.c) */
	for (ci = 0; ci < 2 * UKM_MAX_CONTAINERS; ci++)
		if (count < cap && ukm_cert_make(s, ci, &o) == 0 && ukm_object_matches(&o, tmpl, n))
			out[count++] = o.handle;
	for (ci = 0; ci < UKM_MAX_DATA_FILES; ci++)
		if (count < cap && ukm_data_make(s, ci, &o) == 0 && ukm_object_matches(&o, tmpl, n))
			out[count++] = o.handle;
	/* then the session secret keys (ukm_skey.c) */
	count += ukm_skey_match_all(s, ukm_object_matches_cb, &arg, out + count, cap - count);
	return count;
}
