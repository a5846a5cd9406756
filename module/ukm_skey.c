/* ukey module: CKO_SECRET_KEY session objects (PKCS#11 3.0 §4.10 secret key objects, §4.4
 * session objects).
 *
 * Two kinds, both session objects (CKA_TOKEN FALSE) of the session that made them:
 *   CKK_UKEY_SM4        an SM4 key held by the card in its secure session (GENERATE or
 *                       IMPORT SESSION KEY, docs/apdu.md); the module holds the card's
 *                       one-byte handle only, never the key. The card wipes its keys when
 *                       the secure session or the user login ends, and keeps 4: objects
 *                       whose card key is gone are destroyed with it (ukm_skey_card_gone,
 *                       ukm_skey_card_evict) rather than left to fail.
 *   CKK_GENERIC_SECRET  a caller's HMAC key (C_CreateObject), kept by the module for
 *                       CKM_UKEY_SM3_HMAC, which runs on the host; never sent to the card.
 * Handles: kind 3 of ukm_object.c's layout, the table index in the 6 low bits; a freed
 * index is given out again only after the others (next-fit), so a stale handle rarely
 * names a new object. */
#include <stdlib.h>
#include <string.h>

#include "uk_wipe.h"
#include "ukm.h"

static ukm_skey ukm_skeys[UKM_MAX_SKEYS];
static unsigned ukm_skey_next;

ukm_skey *ukm_skey_new(ukm_slot *s, CK_SESSION_HANDLE owner)
{
	unsigned i, idx;

	for (i = 0; i < UKM_MAX_SKEYS; i++) {
		idx = (ukm_skey_next + i) % UKM_MAX_SKEYS;
		if (ukm_skeys[idx].used)
			continue;
		ukm_skey_next = idx + 1;
		memset(&ukm_skeys[idx], 0, sizeof(ukm_skeys[idx]));
		ukm_skeys[idx].used = 1;
		ukm_skeys[idx].slot = s->id;
		ukm_skeys[idx].epoch = s->epoch;
		ukm_skeys[idx].owner = owner;
		return &ukm_skeys[idx];
	}
	return NULL;
}

CK_OBJECT_HANDLE ukm_skey_handle(const ukm_slot *s, const ukm_skey *k)
{
	return ((CK_OBJECT_HANDLE)s->epoch << 24) | ((CK_OBJECT_HANDLE)(s->id & 0xFFFF) << 8) |
	       ((CK_OBJECT_HANDLE)UKM_KIND_SKEY << 6) | (CK_OBJECT_HANDLE)(k - ukm_skeys);
}

void ukm_skey_free(ukm_skey *k)
{
	if (k->value != NULL) {
		uk_wipe(k->value, k->len);
		free(k->value);
	}
	uk_wipe(k, sizeof(*k));
}

/* A live object of this card, visible in the current login state (§4.4 CKA_PRIVATE). */
static int ukm_skey_visible(const ukm_slot *s, const ukm_skey *k)
{
	return k->used && k->slot == s->id && k->epoch == s->epoch &&
	       (!k->priv || s->login == UKM_LOGIN_USER);
}

int ukm_skey_make(ukm_slot *s, unsigned idx, ukm_object *o)
{
	ukm_skey *k;

	if (idx >= UKM_MAX_SKEYS || !ukm_skey_visible(s, &ukm_skeys[idx]))
		return -1;
	k = &ukm_skeys[idx];
	memset(o, 0, sizeof(*o));
	o->handle = ukm_skey_handle(s, k);
	o->cls = CKO_SECRET_KEY;
	o->slot = s;
	o->sk = k;
	return 0;
}

size_t ukm_skey_match_all(ukm_slot *s, int (*match)(const ukm_object *, void *), void *arg,
                          CK_OBJECT_HANDLE *out, size_t cap)
{
	ukm_object o;
	size_t n = 0;
	unsigned i;

	for (i = 0; i < UKM_MAX_SKEYS && n < cap; i++)
		if (ukm_skey_make(s, i, &o) == 0 && match(&o, arg))
			out[n++] = o.handle;
	return n;
}

void ukm_skey_session_closed(CK_SESSION_HANDLE owner)
{
	unsigned i;

	for (i = 0; i < UKM_MAX_SKEYS; i++)
		if (ukm_skeys[i].used && ukm_skeys[i].owner == owner)
			ukm_skey_free(&ukm_skeys[i]);
}

void ukm_skey_card_gone(ukm_slot *s)
{
	unsigned i;

	for (i = 0; i < UKM_MAX_SKEYS; i++)
		if (ukm_skeys[i].used && ukm_skeys[i].slot == s->id &&
		    ukm_skeys[i].type == CKK_UKEY_SM4)
			ukm_skey_free(&ukm_skeys[i]);
}

/* docs/apdu.md IMPORT SESSION KEY: a fifth key replaces the one imported longest ago. */
void ukm_skey_card_evict(ukm_slot *s, uint32_t seq)
{
	unsigned i;

	for (i = 0; i < UKM_MAX_SKEYS; i++)
		if (ukm_skeys[i].used && ukm_skeys[i].slot == s->id &&
		    ukm_skeys[i].type == CKK_UKEY_SM4 && ukm_skeys[i].seq + UKM_CARD_SKEYS <= seq)
			ukm_skey_free(&ukm_skeys[i]);
}

void ukm_skey_free_all(void)
{
	unsigned i;

	for (i = 0; i < UKM_MAX_SKEYS; i++)
		if (ukm_skeys[i].used)
			ukm_skey_free(&ukm_skeys[i]);
}

/* ---- attributes (§4.4, §4.7, §4.10; CKA_VALUE_LEN of the SM4 and generic secret keys) ---- */

static CK_RV ukm_skey_put(const void *v, size_t n, uint8_t *buf, size_t cap, size_t *len)
{
	*len = n;
	if (buf == NULL)
		return CKR_OK;
	if (cap < n)
		return CKR_BUFFER_TOO_SMALL;
	if (n > 0)
		memcpy(buf, v, n);
	return CKR_OK;
}

static CK_RV ukm_skey_ulong(CK_ULONG v, uint8_t *buf, size_t cap, size_t *len)
{
	return ukm_skey_put(&v, sizeof(v), buf, cap, len);
}

static CK_RV ukm_skey_bool(int v, uint8_t *buf, size_t cap, size_t *len)
{
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

	return ukm_skey_put(&b, 1, buf, cap, len);
}

/* The boolean attributes: a constant or a field of the object. */
static int ukm_skey_flag(const ukm_skey *k, CK_ATTRIBUTE_TYPE t, int *v)
{
	const struct {
		CK_ATTRIBUTE_TYPE type;
		int k;                          /* -1: the field below */
		size_t off;
	} rows[] = {
		{ CKA_TOKEN, 0, 0 }, { CKA_MODIFIABLE, 0, 0 }, { CKA_COPYABLE, 0, 0 },
		{ CKA_DESTROYABLE, 1, 0 }, { CKA_DERIVE, 0, 0 }, { CKA_WRAP, 0, 0 },
		{ CKA_UNWRAP, 0, 0 }, { CKA_TRUSTED, 0, 0 }, { CKA_WRAP_WITH_TRUSTED, 0, 0 },
		{ CKA_PRIVATE, -1, offsetof(ukm_skey, priv) },
		{ CKA_SENSITIVE, -1, offsetof(ukm_skey, sensitive) },
		{ CKA_EXTRACTABLE, -1, offsetof(ukm_skey, extractable) },
		{ CKA_ALWAYS_SENSITIVE, -1, offsetof(ukm_skey, always_sensitive) },
		{ CKA_NEVER_EXTRACTABLE, -1, offsetof(ukm_skey, never_extractable) },
		{ CKA_LOCAL, -1, offsetof(ukm_skey, local) },
		{ CKA_ENCRYPT, -1, offsetof(ukm_skey, enc) },
		{ CKA_DECRYPT, -1, offsetof(ukm_skey, dec) },
		{ CKA_SIGN, -1, offsetof(ukm_skey, sign) },
		{ CKA_VERIFY, -1, offsetof(ukm_skey, verify) },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].type != t)
			continue;
		*v = rows[i].k >= 0 ? rows[i].k : ((const uint8_t *)k)[rows[i].off];
		return 1;
	}
	return 0;
}

static CK_RV ukm_skey_mechs(const ukm_skey *k, uint8_t *buf, size_t cap, size_t *len)
{
	static const CK_MECHANISM_TYPE sm4[] = { CKM_UKEY_SM4_ECB, CKM_UKEY_SM4_CBC,
		                                 CKM_UKEY_SM4_CBC_PAD, CKM_UKEY_SM4_MAC };
	static const CK_MECHANISM_TYPE hmac[] = { CKM_UKEY_SM3_HMAC };

	if (k->type == CKK_UKEY_SM4)
		return ukm_skey_put(sm4, sizeof(sm4), buf, cap, len);
	return ukm_skey_put(hmac, sizeof(hmac), buf, cap, len);
}

CK_RV ukm_skey_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len)
{
	const ukm_skey *k = o->sk;
	int v;

	*len = 0;
	if (ukm_skey_flag(k, type, &v))
		return ukm_skey_bool(v, buf, cap, len);
	switch (type) {
	case CKA_CLASS:
		return ukm_skey_ulong(CKO_SECRET_KEY, buf, cap, len);
	case CKA_KEY_TYPE:
		return ukm_skey_ulong(k->type, buf, cap, len);
	case CKA_LABEL:
		return ukm_skey_put(k->label, k->label_len, buf, cap, len);
	case CKA_ID:
		return ukm_skey_put(k->id, k->id_len, buf, cap, len);
	case CKA_START_DATE:
	case CKA_END_DATE:
		return ukm_skey_put(NULL, 0, buf, cap, len);
	case CKA_KEY_GEN_MECHANISM:
		return ukm_skey_ulong(k->local ? CKM_UKEY_SM4_KEY_GEN : CK_UNAVAILABLE_INFORMATION,
		                      buf, cap, len);
	case CKA_ALLOWED_MECHANISMS:
		return ukm_skey_mechs(k, buf, cap, len);
	case CKA_VALUE_LEN:
		return ukm_skey_ulong(k->type == CKK_UKEY_SM4 ? 16 : k->len, buf, cap, len);
	case CKA_VALUE:
		/* §4.10: sensitive or unextractable values are never revealed; an SM4 key's
		 * value is on the card only */
		if (k->type == CKK_UKEY_SM4 || k->sensitive || !k->extractable)
			return CKR_ATTRIBUTE_SENSITIVE;
		return ukm_skey_put(k->value, k->len, buf, cap, len);
	default:
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
}

/* ---- templates ---- */

/* Boolean template attributes, by index into ukm_skey_tmpl.b. */
static const CK_ATTRIBUTE_TYPE ukm_skey_bools[] = {
	CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ENCRYPT, CKA_DECRYPT,
	CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, CKA_MODIFIABLE, CKA_COPYABLE,
	CKA_DESTROYABLE,
};
enum { B_TOKEN, B_PRIVATE, B_SENSITIVE, B_EXTRACTABLE, B_ENCRYPT, B_DECRYPT, B_SIGN,
       B_VERIFY, B_WRAP, B_UNWRAP, B_DERIVE, B_MODIFIABLE, B_COPYABLE, B_DESTROYABLE, B_N };

struct ukm_skey_tmpl {
	int has_cls, has_type, has_len;
	CK_ULONG cls, type, value_len;
	const CK_ATTRIBUTE *value, *label, *id;
	int b[B_N];                     /* -1 absent, else 0 / 1 */
};

static CK_RV ukm_skey_tmpl_one(const CK_ATTRIBUTE *a, struct ukm_skey_tmpl *q)
{
	size_t i;

	for (i = 0; i < B_N; i++) {
		if (a->type != ukm_skey_bools[i])
			continue;
		if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		q->b[i] = *(const CK_BBOOL *)a->pValue != CK_FALSE;
		return CKR_OK;
	}
	if (a->type == CKA_LABEL || a->type == CKA_ID || a->type == CKA_VALUE) {
		if ((a->pValue == NULL && a->ulValueLen > 0) ||
		    a->ulValueLen > (a->type == CKA_VALUE ? UKM_SKEY_VALUE_MAX : UKM_NAME_MAX))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		*(a->type == CKA_LABEL ? &q->label : a->type == CKA_ID ? &q->id : &q->value) = a;
		return CKR_OK;
	}
	if (a->type != CKA_CLASS && a->type != CKA_KEY_TYPE && a->type != CKA_VALUE_LEN)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (a->type == CKA_CLASS)
		q->has_cls = 1, memcpy(&q->cls, a->pValue, sizeof(CK_ULONG));
	else if (a->type == CKA_KEY_TYPE)
		q->has_type = 1, memcpy(&q->type, a->pValue, sizeof(CK_ULONG));
	else
		q->has_len = 1, memcpy(&q->value_len, a->pValue, sizeof(CK_ULONG));
	return CKR_OK;
}

static CK_RV ukm_skey_tmpl_parse(CK_ATTRIBUTE_PTR t, CK_ULONG n, struct ukm_skey_tmpl *q)
{
	CK_ULONG i;
	CK_RV rv;

	memset(q, 0, sizeof(*q));
	for (i = 0; i < B_N; i++)
		q->b[i] = -1;
	for (i = 0; i < n; i++)
		if ((rv = ukm_skey_tmpl_one(&t[i], q)) != CKR_OK)
			return rv;
	if (q->has_cls && q->cls != CKO_SECRET_KEY)
		return CKR_TEMPLATE_INCONSISTENT;
	/* session objects only (the card stores no secret key); no wrapping or derivation;
	 * objects are never modified or copied, always destroyable */
	if (q->b[B_TOKEN] == 1 || q->b[B_WRAP] == 1 || q->b[B_UNWRAP] == 1 ||
	    q->b[B_DERIVE] == 1 || q->b[B_MODIFIABLE] == 1 || q->b[B_COPYABLE] == 1 ||
	    q->b[B_DESTROYABLE] == 0)
		return CKR_TEMPLATE_INCONSISTENT;
	return CKR_OK;
}

static int ukm_skey_dflt(int v, int dflt)
{
	return v < 0 ? dflt : v;
}

static void ukm_skey_fill(ukm_skey *k, const struct ukm_skey_tmpl *q)
{
	if (q->label != NULL && q->label->ulValueLen > 0)
		memcpy(k->label, q->label->pValue, q->label->ulValueLen);
	k->label_len = q->label != NULL ? q->label->ulValueLen : 0;
	if (q->id != NULL && q->id->ulValueLen > 0)
		memcpy(k->id, q->id->pValue, q->id->ulValueLen);
	k->id_len = q->id != NULL ? q->id->ulValueLen : 0;
	k->sign = (uint8_t)ukm_skey_dflt(q->b[B_SIGN], 1);
	k->verify = (uint8_t)ukm_skey_dflt(q->b[B_VERIFY], 1);
}

/* An SM4 card key's template (C_GenerateKey, C_UnwrapKey): CKK_UKEY_SM4, 16 bytes, private,
 * sensitive, unextractable; no value from the caller. */
CK_RV ukm_skey_sm4_template(CK_ATTRIBUTE_PTR t, CK_ULONG n, ukm_skey *k, int local)
{
	struct ukm_skey_tmpl q;
	CK_RV rv;

	if ((rv = ukm_skey_tmpl_parse(t, n, &q)) != CKR_OK)
		return rv;
	if ((q.has_type && q.type != CKK_UKEY_SM4) || q.value != NULL ||
	    q.b[B_PRIVATE] == 0 || q.b[B_SENSITIVE] == 0 || q.b[B_EXTRACTABLE] == 1)
		return CKR_TEMPLATE_INCONSISTENT;
	if (q.has_len && q.value_len != 16)
		return local ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_TEMPLATE_INCONSISTENT;
	ukm_skey_fill(k, &q);
	k->type = CKK_UKEY_SM4;
	k->priv = k->sensitive = 1;
	k->always_sensitive = k->never_extractable = 1;
	k->local = (uint8_t)local;
	k->enc = (uint8_t)ukm_skey_dflt(q.b[B_ENCRYPT], 1);
	k->dec = (uint8_t)ukm_skey_dflt(q.b[B_DECRYPT], 1);
	return CKR_OK;
}

/* PKCS#11 3.0 §5.7.1 for a CKK_GENERIC_SECRET (HMAC key): CKA_VALUE required, CKA_VALUE_LEN
 * if given equal to its length; sign/verify only. */
CK_RV ukm_skey_create(ukm_slot *s, CK_SESSION_HANDLE owner, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR h)
{
	struct ukm_skey_tmpl q;
	ukm_skey *k;
	CK_RV rv;

	if ((rv = ukm_skey_tmpl_parse(t, n, &q)) != CKR_OK)
		return rv;
	if (!q.has_type || q.value == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (q.type != CKK_GENERIC_SECRET)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((q.has_len && q.value_len != q.value->ulValueLen) || q.b[B_ENCRYPT] == 1 ||
	    q.b[B_DECRYPT] == 1)
		return CKR_TEMPLATE_INCONSISTENT;
	if (q.value->ulValueLen == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (ukm_skey_dflt(q.b[B_PRIVATE], 1) && s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if ((k = ukm_skey_new(s, owner)) == NULL)
		return CKR_DEVICE_MEMORY;
	ukm_skey_fill(k, &q);
	k->type = CKK_GENERIC_SECRET;
	k->priv = (uint8_t)ukm_skey_dflt(q.b[B_PRIVATE], 1);
	k->sensitive = (uint8_t)ukm_skey_dflt(q.b[B_SENSITIVE], 1);
	k->extractable = (uint8_t)ukm_skey_dflt(q.b[B_EXTRACTABLE], 0);
	k->value = malloc(q.value->ulValueLen);
	if (k->value == NULL) {
		ukm_skey_free(k);
		return CKR_HOST_MEMORY;
	}
	memcpy(k->value, q.value->pValue, q.value->ulValueLen);
	k->len = q.value->ulValueLen;
	*h = ukm_skey_handle(s, k);
	return CKR_OK;
}
