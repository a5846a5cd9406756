/* ukey module: X.509 certificate objects (PKCS#11 3.0 §4.6) from the certificate files
 * C0 KR of the containers (docs/apdu.md "Files"; GM/T 0016 SKF_ImportCertificate /
 * SKF_ExportCertificate), and the attribute rules shared with the data objects.
 *
 * A certificate belongs to the key pair KR: CKA_ID is that pair's CKA_ID, CKA_LABEL the
 * container name. Its body is read only when an attribute needs it (CKA_VALUE's length is
 * known from GET DATA 02 tags 86/87) and then kept for the card session; the X.509 fields
 * are located with libtasn1 (module/pkix.asn). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "uk_wipe.h"
#include "ukm_file.h"

/* PKCS#11 3.0 §4.6.3 values p11-kit's header lacks. */
#ifndef CK_CERTIFICATE_CATEGORY_UNSPECIFIED
#define CK_CERTIFICATE_CATEGORY_UNSPECIFIED 0UL
#define CK_CERTIFICATE_CATEGORY_TOKEN_USER 1UL
#endif
#ifndef CK_SECURITY_DOMAIN_UNSPECIFIED
#define CK_SECURITY_DOMAIN_UNSPECIFIED 0UL
#endif

enum { UKM_CF_SERIAL, UKM_CF_ISSUER, UKM_CF_SUBJECT, UKM_CF_SPKI };

/* ---- values and the shared rules ---- */

CK_RV ukm_val_copy(const ukm_val *v, uint8_t *buf, size_t cap, size_t *len)
{
	*len = v->n;
	if (buf == NULL)
		return CKR_OK;
	if (cap < v->n)
		return CKR_BUFFER_TOO_SMALL;
	if (v->n > 0)
		memcpy(buf, v->p, v->n);
	return CKR_OK;
}

static void ukm_val_small(ukm_val *v, const void *p, size_t n)
{
	memcpy(v->small, p, n);
	v->p = v->small;
	v->n = n;
}

CK_RV ukm_fattr_bool_k(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	const CK_BBOOL b = r->k ? CK_TRUE : CK_FALSE;

	(void)src, (void)want;
	ukm_val_small(v, &b, sizeof(b));
	return CKR_OK;
}

CK_RV ukm_fattr_ulong_k(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	(void)src, (void)want;
	ukm_val_small(v, &r->k, sizeof(r->k));
	return CKR_OK;
}

CK_RV ukm_fattr_empty(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	(void)src, (void)r, (void)want;
	v->n = 0;
	return CKR_OK;
}

CK_RV ukm_fattr_label(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	(void)r, (void)want;
	v->p = (const uint8_t *)src->name;
	v->n = src->name_len;
	return CKR_OK;
}

static const ukm_frule *ukm_frule_for(const ukm_frule *rules, size_t n, CK_ATTRIBUTE_TYPE t)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rules[i].type == t)
			return &rules[i];
	return NULL;
}

CK_RV ukm_frule_attr(const ukm_frule *rules, size_t n, ukm_fsrc *src, CK_ATTRIBUTE_TYPE type,
                     uint8_t *buf, size_t cap, size_t *len)
{
	const ukm_frule *r = ukm_frule_for(rules, n, type);
	ukm_val v = { 0 };
	CK_RV rv;

	*len = 0;
	if (r == NULL)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	rv = r->get(src, r, buf != NULL, &v);
	if (rv == CKR_OK)
		rv = ukm_val_copy(&v, buf, cap, len);
	if (v.heap != NULL) {
		uk_wipe(v.heap, v.n);
		free(v.heap);
	}
	return rv;
}

CK_RV ukm_frule_check(const ukm_frule *rules, size_t n, ukm_fsrc *src, CK_ATTRIBUTE_PTR t,
                      CK_ULONG count)
{
	const ukm_frule *r;
	ukm_val v;
	CK_ULONG i;
	CK_RV rv;
	int same;

	for (i = 0; i < count; i++) {
		if ((r = ukm_frule_for(rules, n, t[i].type)) == NULL)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		if (t[i].pValue == NULL && t[i].ulValueLen > 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		memset(&v, 0, sizeof(v));
		if ((rv = r->get(src, r, 1, &v)) != CKR_OK)
			return rv;
		same = v.n == t[i].ulValueLen && (v.n == 0 || memcmp(v.p, t[i].pValue, v.n) == 0);
		free(v.heap);
		if (!same)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	return CKR_OK;
}

const CK_ATTRIBUTE *ukm_tmpl_get(CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

/* ---- the certificate's source ---- */

/* The body, from the cache or read once per card session (SELECT C0 KR + READ BINARY). */
static CK_RV ukm_cert_body(ukm_fsrc *src)
{
	ukm_card_cache *c = &src->s->cache;
	unsigned kr = src->file;
	uint8_t *p;
	CK_RV rv;

	if (src->value != NULL)
		return CKR_OK;
	if (c->cert_body[kr] == NULL || c->cert_body_len[kr] != src->len) {
		if ((p = malloc(src->len)) == NULL)
			return CKR_HOST_MEMORY;
		if ((rv = ukm_card_read_file(src->s, (uint16_t)(0xC000 | kr), p, src->len)) !=
		    CKR_OK) {
			free(p);
			return rv;
		}
		free(c->cert_body[kr]);
		c->cert_body[kr] = p;
		c->cert_body_len[kr] = src->len;
	}
	src->value = c->cert_body[kr];
	return CKR_OK;
}

static CK_RV ukm_cattr_value(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	CK_RV rv;

	(void)r;
	v->n = src->len;
	if (!want)
		return CKR_OK;
	if ((rv = ukm_cert_body(src)) != CKR_OK)
		return rv;
	v->p = src->value;
	return CKR_OK;
}

/* A field located by libtasn1; a body that does not parse gives empty fields (its
 * CKA_VALUE stays readable). */
static CK_RV ukm_cattr_field(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	const size_t *f;
	ukm_cert_info ci;
	CK_RV rv;

	(void)want;
	v->n = 0;
	if ((rv = ukm_cert_body(src)) != CKR_OK)
		return rv;
	if (ukm_cert_parse(src->value, src->len, &ci) != 0)
		return CKR_OK;
	f = r->k == UKM_CF_SERIAL ? &ci.serial_off : r->k == UKM_CF_ISSUER ? &ci.issuer_off :
	    r->k == UKM_CF_SUBJECT ? &ci.subject_off : &ci.spki_off;
	v->p = src->value + f[0];
	v->n = f[1];
	return CKR_OK;
}

/* CKA_CHECK_VALUE (§4.6.4): the first 3 bytes of SHA-1 of CKA_VALUE. */
static CK_RV ukm_cattr_check(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	CK_RV rv;

	(void)r, (void)want;
	if ((rv = ukm_cert_body(src)) != CKR_OK)
		return rv;
	if (EVP_Digest(src->value, src->len, md, &n, EVP_sha1(), NULL) != 1)
		return CKR_GENERAL_ERROR;
	ukm_val_small(v, md, 3);
	return CKR_OK;
}

/* The public key object of pair KR (visible without login), if the pair exists. */
static int ukm_cert_pair(ukm_slot *s, unsigned kr, ukm_object *k)
{
	return ukm_object_find(s, ukm_object_handle(s, kr / 2, (int)(kr % 2), 0), k) == CKR_OK;
}

/* CKA_ID: the key pair's (DESIGN.md: one CKA_ID shared by a pair and its certificate). */
static CK_RV ukm_cattr_id(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	ukm_object k;

	(void)r, (void)want;
	v->n = 0;
	if (!ukm_cert_pair(src->s, src->file, &k))
		return CKR_OK;
	if (ukm_object_attr(&k, CKA_ID, v->small, sizeof(v->small), &v->n) != CKR_OK)
		v->n = 0;
	v->p = v->small;
	return CKR_OK;
}

/* CKA_CERTIFICATE_CATEGORY (§4.6.3): token user when the pair's key is on the token. */
static CK_RV ukm_cattr_category(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	CK_ULONG cat = CK_CERTIFICATE_CATEGORY_UNSPECIFIED;
	ukm_object k;

	(void)r, (void)want;
	if (ukm_cert_pair(src->s, src->file, &k))
		cat = CK_CERTIFICATE_CATEGORY_TOKEN_USER;
	ukm_val_small(v, &cat, sizeof(cat));
	return CKR_OK;
}

/* PKCS#11 3.0 §4.4 storage, §4.6.3 certificate, §4.6.4 X.509 public key certificate. */
static const ukm_frule ukm_cert_rules[] = {
	{ CKA_CLASS, ukm_fattr_ulong_k, CKO_CERTIFICATE },
	{ CKA_TOKEN, ukm_fattr_bool_k, CK_TRUE },
	{ CKA_PRIVATE, ukm_fattr_bool_k, CK_FALSE },        /* READ BINARY needs no PIN */
	{ CKA_MODIFIABLE, ukm_fattr_bool_k, CK_TRUE },      /* CKA_LABEL: RENAME CONTAINER */
	{ CKA_COPYABLE, ukm_fattr_bool_k, CK_FALSE },
	{ CKA_DESTROYABLE, ukm_fattr_bool_k, CK_TRUE },     /* DELETE FILE */
	{ CKA_LABEL, ukm_fattr_label, 0 },
	{ CKA_CERTIFICATE_TYPE, ukm_fattr_ulong_k, CKC_X_509 },
	{ CKA_TRUSTED, ukm_fattr_bool_k, CK_FALSE },
	{ CKA_CERTIFICATE_CATEGORY, ukm_cattr_category, 0 },
	{ CKA_CHECK_VALUE, ukm_cattr_check, 0 },
	{ CKA_START_DATE, ukm_fattr_empty, 0 },
	{ CKA_END_DATE, ukm_fattr_empty, 0 },
	{ CKA_PUBLIC_KEY_INFO, ukm_cattr_field, UKM_CF_SPKI },
	{ CKA_SUBJECT, ukm_cattr_field, UKM_CF_SUBJECT },
	{ CKA_ID, ukm_cattr_id, 0 },
	{ CKA_ISSUER, ukm_cattr_field, UKM_CF_ISSUER },
	{ CKA_SERIAL_NUMBER, ukm_cattr_field, UKM_CF_SERIAL },
	{ CKA_VALUE, ukm_cattr_value, 0 },
	{ CKA_URL, ukm_fattr_empty, 0 },
	{ CKA_HASH_OF_SUBJECT_PUBLIC_KEY, ukm_fattr_empty, 0 },
	{ CKA_HASH_OF_ISSUER_PUBLIC_KEY, ukm_fattr_empty, 0 },
	{ CKA_JAVA_MIDP_SECURITY_DOMAIN, ukm_fattr_ulong_k, CK_SECURITY_DOMAIN_UNSPECIFIED },
	{ CKA_NAME_HASH_ALGORITHM, ukm_fattr_ulong_k, CKM_SHA_1 },
};
#define UKM_CERT_NRULES (sizeof(ukm_cert_rules) / sizeof(ukm_cert_rules[0]))

static void ukm_cert_src(ukm_slot *s, unsigned kr, ukm_fsrc *src)
{
	const ukm_container *c = &s->cache.cont[kr / 2];

	memset(src, 0, sizeof(*src));
	src->s = s;
	src->file = kr;
	src->name = c->name;
	src->name_len = c->name_len;
	src->len = c->cert_len[kr % 2];
}

CK_RV ukm_cert_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len)
{
	ukm_fsrc src;

	ukm_cert_src(o->slot, o->file, &src);
	return ukm_frule_attr(ukm_cert_rules, UKM_CERT_NRULES, &src, type, buf, cap, len);
}

CK_OBJECT_HANDLE ukm_file_handle(const ukm_slot *s, unsigned kind, unsigned low)
{
	return ukm_object_handle(s, 0, 0, 0) | (CK_OBJECT_HANDLE)(kind << 6) | low;
}

/* The certificate object of pair KR, when GET DATA 02 lists its file. */
int ukm_cert_make(ukm_slot *s, unsigned kr, ukm_object *o)
{
	const ukm_container *c = &s->cache.cont[kr / 2];

	if (kr >= 2 * UKM_MAX_CONTAINERS || !s->cache.have_containers || !c->present ||
	    c->cert_len[kr % 2] == 0)
		return -1;
	memset(o, 0, sizeof(*o));
	o->handle = ukm_file_handle(s, UKM_KIND_CERT, kr);
	o->cls = CKO_CERTIFICATE;
	o->usage = (int)(kr % 2);
	o->cont = c;
	o->slot = s;
	o->file = kr;
	return 0;
}

/* ---- C_CreateObject of a certificate ---- */

/* The pair the certificate goes with: by CKA_ID if given, else by its public key; the
 * pair's SubjectPublicKeyInfo must be the certificate's either way. */
static CK_RV ukm_cert_target(ukm_slot *s, const CK_ATTRIBUTE *id, const uint8_t *spki,
                             size_t spki_len, unsigned *kr)
{
	uint8_t buf[512], idv[64];
	size_t n, idn;
	ukm_object k;
	unsigned i;

	for (i = 0; i < 2 * UKM_MAX_CONTAINERS; i++) {
		if (!ukm_cert_pair(s, i, &k))
			continue;
		if (id != NULL && (ukm_object_attr(&k, CKA_ID, idv, sizeof(idv), &idn) != CKR_OK ||
		                   idn != id->ulValueLen || memcmp(idv, id->pValue, idn) != 0))
			continue;
		if (ukm_object_attr(&k, CKA_PUBLIC_KEY_INFO, buf, sizeof(buf), &n) == CKR_OK &&
		    n == spki_len && memcmp(buf, spki, n) == 0) {
			*kr = i;
			return CKR_OK;
		}
		if (id != NULL)
			return CKR_TEMPLATE_INCONSISTENT;   /* that pair's key is another one */
	}
	return CKR_TEMPLATE_INCONSISTENT;
}

CK_RV ukm_cert_create(ukm_slot *s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	const CK_ATTRIBUTE *val = ukm_tmpl_get(t, n, CKA_VALUE), *id = ukm_tmpl_get(t, n, CKA_ID);
	const CK_ATTRIBUTE *type = ukm_tmpl_get(t, n, CKA_CERTIFICATE_TYPE);
	ukm_cert_info ci;
	ukm_fsrc src;
	ukm_object o;
	uint8_t *copy;
	unsigned kr = 0;
	CK_RV rv;

	if (val == NULL || type == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (val->pValue == NULL || ukm_cert_parse(val->pValue, val->ulValueLen, &ci) != 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((rv = ukm_cert_target(s, id, (const uint8_t *)val->pValue + ci.spki_off, ci.spki_len,
	                          &kr)) != CKR_OK)
		return rv;
	if (s->cache.cont[kr / 2].cert_len[kr % 2] != 0)
		return CKR_TEMPLATE_INCONSISTENT;           /* the pair has its certificate */
	ukm_cert_src(s, kr, &src);
	src.value = val->pValue;
	src.len = val->ulValueLen;
	if ((rv = ukm_frule_check(ukm_cert_rules, UKM_CERT_NRULES, &src, t, n)) != CKR_OK)
		return rv;
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if ((copy = malloc(src.len)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(copy, src.value, src.len);
	rv = ukm_file_store(s, (uint16_t)(0xC000 | kr), NULL, 0, copy, src.len);
	if (rv != CKR_OK) {
		free(copy);
		return rv;
	}
	/* our write: the list and the body are known without asking the card again */
	s->cache.cont[kr / 2].cert_len[kr % 2] = (uint16_t)src.len;
	free(s->cache.cert_body[kr]);
	s->cache.cert_body[kr] = copy;
	s->cache.cert_body_len[kr] = src.len;
	ukm_cert_make(s, kr, &o);
	*h = o.handle;
	return CKR_OK;
}
