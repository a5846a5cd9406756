/* ukey module: C_SetAttributeValue of token objects (PKCS#11 3.0 §5.7.6).
 *
 * What the card can change is a name: CKA_LABEL of key and certificate objects is their
 * container's name (RENAME CONTAINER), CKA_LABEL of a data object its file's name (RENAME
 * FILE; docs/apdu.md "RENAME"). Renaming through one object of a container therefore
 * changes the label of every object of that container (its key pairs and certificates):
 * the label is one value on the card. Every other attribute is CKR_ATTRIBUTE_READ_ONLY
 * (the card stores none of them: they are derived from the keys and files), except the
 * "one-way" booleans of §4.9 set to the value they already have. The whole template is
 * checked before the one APDU, so it is applied entirely or not at all. Handles do not
 * change (they name the container index or the file number, not the name). */
#include <string.h>

#include "ukm_file.h"

/* §4.9 table footnotes 11/12: attributes an application may set, in one direction only;
 * setting the value the object already has is allowed (nothing changes). */
static const struct ukm_one_way {
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL to;
} ukm_one_way[] = {
	{ CKO_PRIVATE_KEY, CKA_SENSITIVE, CK_TRUE },          /* may only become TRUE */
	{ CKO_PRIVATE_KEY, CKA_EXTRACTABLE, CK_FALSE },       /* may only become FALSE */
	{ CKO_PRIVATE_KEY, CKA_WRAP_WITH_TRUSTED, CK_TRUE },
};

/* The new name wanted by the template (*label, or NULL when CKA_LABEL is absent). */
struct ukm_set_req {
	const char *label;
	size_t label_len;
};

static size_t ukm_label_max(const ukm_object *o)
{
	return o->cls == CKO_DATA ? UKM_DATA_NAME_MAX : UKM_NAME_MAX;
}

static CK_RV ukm_set_label(const ukm_object *o, const CK_ATTRIBUTE *a, struct ukm_set_req *q)
{
	if (a->pValue == NULL || a->ulValueLen == 0 || a->ulValueLen > ukm_label_max(o))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (q->label != NULL &&
	    (q->label_len != a->ulValueLen || memcmp(q->label, a->pValue, q->label_len) != 0))
		return CKR_TEMPLATE_INCONSISTENT;      /* two different labels asked for */
	q->label = a->pValue;
	q->label_len = a->ulValueLen;
	return CKR_OK;
}

/* Any other attribute: unknown to the object CKR_ATTRIBUTE_TYPE_INVALID; a one-way boolean
 * at its current value is accepted; everything else is read-only here. */
static CK_RV ukm_set_other(const ukm_object *o, const CK_ATTRIBUTE *a)
{
	CK_BBOOL cur = 0;
	size_t i, len = 0;
	CK_RV rv = ukm_object_attr(o, a->type, NULL, 0, &len);

	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return rv;
	for (i = 0; i < sizeof(ukm_one_way) / sizeof(ukm_one_way[0]); i++) {
		if (ukm_one_way[i].cls != o->cls || ukm_one_way[i].type != a->type)
			continue;
		if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (ukm_object_attr(o, a->type, &cur, sizeof(cur), &len) != CKR_OK)
			return CKR_ATTRIBUTE_READ_ONLY;
		return *(const CK_BBOOL *)a->pValue == cur ? CKR_OK : CKR_ATTRIBUTE_READ_ONLY;
	}
	return CKR_ATTRIBUTE_READ_ONLY;
}

static CK_RV ukm_set_check(const ukm_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                           struct ukm_set_req *q)
{
	CK_RV rv = CKR_OK;
	CK_ULONG i;

	for (i = 0; i < n && rv == CKR_OK; i++)
		rv = t[i].type == CKA_LABEL ? ukm_set_label(o, &t[i], q) : ukm_set_other(o, &t[i]);
	return rv;
}

/* The object's current name, and whether another object of its kind already has name. */
static int ukm_name_is(const char *cur, size_t cur_len, const struct ukm_set_req *q)
{
	return cur_len == q->label_len && memcmp(cur, q->label, cur_len) == 0;
}

static int ukm_name_taken(const ukm_slot *s, const ukm_object *o, const struct ukm_set_req *q)
{
	unsigned i;

	if (o->cls == CKO_DATA) {
		for (i = 0; i < UKM_MAX_DATA_FILES; i++)
			if (i != o->file && s->cache.data[i].present &&
			    ukm_name_is(s->cache.data[i].name, s->cache.data[i].name_len, q))
				return 1;
		return 0;
	}
	for (i = 0; i < UKM_MAX_CONTAINERS; i++)
		if (s->cache.cont[i].present && &s->cache.cont[i] != o->cont &&
		    ukm_name_is(s->cache.cont[i].name, s->cache.cont[i].name_len, q))
			return 1;
	return 0;
}

/* The container of a key or certificate object (certificates carry KR in o->file). */
static ukm_container *ukm_set_container(ukm_slot *s, const ukm_object *o)
{
	unsigned ci = o->cls == CKO_CERTIFICATE ? o->file / 2 : o->cont->index;

	return &s->cache.cont[ci];
}

static CK_RV ukm_set_rename(ukm_slot *s, const ukm_object *o, const struct ukm_set_req *q)
{
	ukm_data_file *f = o->cls == CKO_DATA ? &s->cache.data[o->file] : NULL;
	ukm_container *c = f == NULL ? ukm_set_container(s, o) : NULL;
	CK_RV rv;

	if (f != NULL ? ukm_name_is(f->name, f->name_len, q) : ukm_name_is(c->name, c->name_len, q))
		return CKR_OK;                  /* already so named: no APDU */
	if (ukm_name_taken(s, o, q))
		return CKR_ATTRIBUTE_VALUE_INVALID;     /* the card keeps names unique */
	rv = ukm_card_rename(s, f != NULL, f != NULL ? o->file : c->index, q->label, q->label_len);
	ukm_file_written(s);                    /* free space counts container names */
	if (rv != CKR_OK)
		return rv;
	/* the cache follows the card: every object of the container reads the new name */
	if (f != NULL) {
		memset(f->name, 0, sizeof(f->name));
		memcpy(f->name, q->label, q->label_len);
		f->name_len = q->label_len;
	} else {
		memset(c->name, 0, sizeof(c->name));
		memcpy(c->name, q->label, q->label_len);
		c->name_len = q->label_len;
	}
	return CKR_OK;
}

CK_RV ukm_object_set_attributes(ukm_slot *s, CK_FLAGS session_flags, const ukm_object *o,
                                CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct ukm_set_req q = { NULL, 0 };
	CK_RV rv;

	/* session secret keys have CKA_MODIFIABLE FALSE (ukm_skey.c) */
	if (o->cls == CKO_SECRET_KEY)
		return CKR_ACTION_PROHIBITED;
	if (!(session_flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;   /* every other object is a token object */
	if ((rv = ukm_set_check(o, t, n, &q)) != CKR_OK)
		return rv;
	/* the card renames under the user PIN of our secure session */
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return q.label == NULL ? CKR_OK : ukm_set_rename(s, o, &q);
}
