/* ukey module: data objects (PKCS#11 3.0 §4.5) from the data files D0 nn (docs/apdu.md
 * "Files"; GM/T 0016 SKF_CreateFile / SKF_ReadFile / SKF_WriteFile / SKF_DeleteFile), the
 * secured file commands, and C_DestroyObject's card side.
 *
 * The data file list (GET DATA 01 03) is cached per card session; a value is read only when
 * CKA_VALUE's bytes are asked for (its length is in the list). */
#include <stdlib.h>
#include <string.h>

#include "uk_apdu.h"
#include "uk_wipe.h"
#include "ukm_file.h"

#define UKM_APPLICATION "ukey"
#define UKM_WRITE_CHUNK 32768u      /* two UPDATE BINARY for the largest file */

static ukm_rapdu ukm_data_resp;     /* 64 KiB; the library lock serialises its use */

/* ---- secured file commands ---- */

/* One secured command (docs/apdu.md "Secure session"), payload authenticated in clear;
 * *sw is the card's answer. A refused wrapper (6988) or 6982 means our login is gone. */
static CK_RV ukm_file_secured(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                              const uint8_t *payload, size_t n, uint16_t *sw)
{
	ukm_rapdu *r = &ukm_data_resp;
	uk_buf data;
	CK_RV rv;

	if (!s->sm_open || s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	uk_buf_init(&data, UK_APDU_MAX_NC, 0);
	if (uk_sm_wrap(&s->sm, cla, ins, p1, p2, payload, n, 0, &data) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	rv = ukm_card_command(s, cla, ins, p1, p2, data.data, data.len, 0, r);
	if (rv != CKR_OK)
		goto out;
	*sw = r->sw;
	if (r->sw == UK_SW_SM_INCORRECT)
		ukm_secure_drop(s);
	else if (r->sw == UK_SW_SECURITY_STATUS)
		s->login = UKM_LOGIN_NONE;
out:
	uk_buf_free(&data);
	ukm_rapdu_wipe(r);
	return rv;
}

/* CREATE FILE 84 E0 01 00 { 83 02 fid, 80 04 size, [84 name] }: the new empty file
 * becomes the current file. */
CK_RV ukm_file_create(ukm_slot *s, uint16_t fid, uint32_t size, const char *name, size_t nlen)
{
	uint8_t p[4 + 6 + 2 + UKM_DATA_NAME_MAX], *q = p;
	uint16_t sw = 0;
	CK_RV rv;

	if (nlen > UKM_DATA_NAME_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*q++ = 0x83, *q++ = 2, *q++ = (uint8_t)(fid >> 8), *q++ = (uint8_t)fid;
	*q++ = 0x80, *q++ = 4;
	uk_set_u16(q, (uint16_t)(size >> 16)), uk_set_u16(q + 2, (uint16_t)size), q += 4;
	if (nlen > 0) {
		*q++ = 0x84, *q++ = (uint8_t)nlen;
		memcpy(q, name, nlen), q += nlen;
	}
	rv = ukm_file_secured(s, 0x84, 0xE0, 0x01, 0x00, p, (size_t)(q - p), &sw);
	return rv != CKR_OK ? rv : ukm_sw_to_rv(sw);
}

/* ISO 7816-4 §11.2.5 UPDATE BINARY of the current file from offset 0: D6 (offset in P1 P2)
 * while the offset fits 15 bits, then D7 with 54 <offset> 53 <bytes>. */
CK_RV ukm_file_write(ukm_slot *s, const uint8_t *p, size_t n)
{
	uint8_t *d7 = malloc(9 + UKM_WRITE_CHUNK);
	size_t off = 0, k;
	uint16_t sw = 0;
	CK_RV rv = CKR_OK;

	if (d7 == NULL)
		return CKR_HOST_MEMORY;
	for (; off < n && rv == CKR_OK; off += k) {
		k = n - off < UKM_WRITE_CHUNK ? n - off : UKM_WRITE_CHUNK;
		if (off <= 0x7FFF) {
			rv = ukm_file_secured(s, 0x04, 0xD6, (uint8_t)(off >> 8), (uint8_t)off,
			                      p + off, k, &sw);
		} else {
			d7[0] = 0x54, d7[1] = 3, d7[2] = (uint8_t)(off >> 16);
			uk_set_u16(d7 + 3, (uint16_t)off);
			d7[5] = 0x53, d7[6] = 0x82;
			uk_set_u16(d7 + 7, (uint16_t)k);
			memcpy(d7 + 9, p + off, k);
			rv = ukm_file_secured(s, 0x04, 0xD7, 0x00, 0x00, d7, 9 + k, &sw);
		}
		if (rv == CKR_OK)
			rv = ukm_sw_to_rv(sw);
	}
	free(d7);
	return rv;
}

/* DELETE FILE 84 E4 00 00 { 83 02 fid }; 6A82: someone else deleted it. */
CK_RV ukm_file_delete(ukm_slot *s, uint16_t fid)
{
	const uint8_t p[4] = { 0x83, 2, (uint8_t)(fid >> 8), (uint8_t)fid };
	uint16_t sw = 0;
	CK_RV rv;

	if ((rv = ukm_file_secured(s, 0x84, 0xE4, 0x00, 0x00, p, sizeof(p), &sw)) != CKR_OK)
		return rv;
	return sw == UK_SW_NOT_FOUND ? CKR_OBJECT_HANDLE_INVALID : ukm_sw_to_rv(sw);
}

/* DELETE CONTAINER 84 E4 01 00 { 80 01 index } (SPEC S0-K9: keys and certificates go). */
CK_RV ukm_container_delete(ukm_slot *s, unsigned ci)
{
	const uint8_t p[3] = { 0x80, 1, (uint8_t)ci };
	uint16_t sw = 0;
	CK_RV rv;

	if ((rv = ukm_file_secured(s, 0x84, 0xE4, 0x01, 0x00, p, sizeof(p), &sw)) != CKR_OK)
		return rv;
	return sw == UK_SW_REF_NOT_FOUND ? CKR_OBJECT_HANDLE_INVALID : ukm_sw_to_rv(sw);
}

/* RENAME 84 E2 P1 00 { 80 01 index, 81 name } / P1 01 { 83 02 fid, 84 name } (docs/apdu.md
 * "RENAME"): 6A89 the name is taken (someone else's change since our cache), 6A88 / 6A82
 * the object went, 6A80 a value the card refuses. */
CK_RV ukm_card_rename(ukm_slot *s, int file, unsigned which, const char *name, size_t n)
{
	uint8_t p[6 + UKM_NAME_MAX], *q = p;
	uint16_t sw = 0;
	CK_RV rv;

	if (n == 0 || n > (file ? UKM_DATA_NAME_MAX : UKM_NAME_MAX))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (file)
		*q++ = 0x83, *q++ = 2, *q++ = 0xD0, *q++ = (uint8_t)which, *q++ = 0x84;
	else
		*q++ = 0x80, *q++ = 1, *q++ = (uint8_t)which, *q++ = 0x81;
	*q++ = (uint8_t)n;
	memcpy(q, name, n), q += n;
	rv = ukm_file_secured(s, 0x84, 0xE2, file ? 0x01 : 0x00, 0x00, p, (size_t)(q - p), &sw);
	if (rv != CKR_OK)
		return rv;
	if (sw == UK_SW_ALREADY_EXISTS || sw == UK_SW_WRONG_DATA)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (sw == UK_SW_REF_NOT_FOUND || sw == UK_SW_NOT_FOUND)
		return CKR_OBJECT_HANDLE_INVALID;
	return ukm_sw_to_rv(sw);
}

void ukm_file_written(ukm_slot *s)
{
	s->cache.have_info = 0;         /* GET DATA 00 tag 86, the free space, changed */
}

/* The card's answers to a creation, in C_CreateObject's codes (PKCS#11 3.0 §5.7.1). */
static CK_RV ukm_file_create_rv(CK_RV rv)
{
	if (rv == CKR_DATA_INVALID)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (rv == CKR_KEY_HANDLE_INVALID)
		return CKR_TEMPLATE_INCONSISTENT;      /* the container went meanwhile */
	return rv;
}

static CK_RV ukm_file_store_locked(ukm_slot *s, uint16_t fid, const char *name, size_t nlen,
                                   const uint8_t *value, size_t n)
{
	CK_RV rv;

	if ((rv = ukm_file_create(s, fid, (uint32_t)n, name, nlen)) != CKR_OK)
		return rv;
	if ((rv = ukm_file_write(s, value, n)) != CKR_OK)
		(void)ukm_file_delete(s, fid);     /* leave no half-written object behind */
	return rv;
}

/* CREATE FILE and UPDATE BINARY act on the card's current file: one PC/SC transaction
 * keeps another client from selecting between them. */
CK_RV ukm_file_store(ukm_slot *s, uint16_t fid, const char *name, size_t nlen,
                     const uint8_t *value, size_t n)
{
	CK_RV rv;

	if ((rv = ukm_card_open(s)) != CKR_OK)
		return rv;
	if (SCardBeginTransaction(s->card) != SCARD_S_SUCCESS)
		return CKR_DEVICE_ERROR;
	rv = ukm_file_store_locked(s, fid, name, nlen, value, n);
	if (s->connected)
		SCardEndTransaction(s->card, SCARD_LEAVE_CARD);
	ukm_file_written(s);
	return ukm_file_create_rv(rv);
}

/* ---- data objects ---- */

static CK_RV ukm_dattr_app(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	(void)src, (void)r, (void)want;
	v->p = (const uint8_t *)UKM_APPLICATION;
	v->n = sizeof(UKM_APPLICATION) - 1;
	return CKR_OK;
}

/* CKA_VALUE: read from the card each time its bytes are asked for (up to 64 KiB). */
static CK_RV ukm_dattr_value(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v)
{
	CK_RV rv;

	(void)r;
	v->n = src->len;
	if (!want || src->value != NULL) {
		v->p = src->value;
		return CKR_OK;
	}
	if ((v->heap = malloc(src->len ? src->len : 1)) == NULL)
		return CKR_HOST_MEMORY;
	rv = ukm_card_read_file(src->s, (uint16_t)(0xD000 | src->file), v->heap, src->len);
	v->p = v->heap;
	return rv;
}

/* PKCS#11 3.0 §4.4 storage and §4.5 data object attributes. */
static const ukm_frule ukm_data_rules[] = {
	{ CKA_CLASS, ukm_fattr_ulong_k, CKO_DATA },
	{ CKA_TOKEN, ukm_fattr_bool_k, CK_TRUE },
	{ CKA_PRIVATE, ukm_fattr_bool_k, CK_FALSE },        /* READ BINARY needs no PIN */
	{ CKA_MODIFIABLE, ukm_fattr_bool_k, CK_TRUE },      /* CKA_LABEL: RENAME FILE */
	{ CKA_COPYABLE, ukm_fattr_bool_k, CK_FALSE },
	{ CKA_DESTROYABLE, ukm_fattr_bool_k, CK_TRUE },
	{ CKA_LABEL, ukm_fattr_label, 0 },
	{ CKA_APPLICATION, ukm_dattr_app, 0 },
	{ CKA_OBJECT_ID, ukm_fattr_empty, 0 },
	{ CKA_VALUE, ukm_dattr_value, 0 },
};
#define UKM_DATA_NRULES (sizeof(ukm_data_rules) / sizeof(ukm_data_rules[0]))

CK_RV ukm_data_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len)
{
	const ukm_data_file *f = &o->slot->cache.data[o->file];
	ukm_fsrc src = { .s = o->slot, .file = o->file, .name = f->name,
		         .name_len = f->name_len, .len = f->length };

	return ukm_frule_attr(ukm_data_rules, UKM_DATA_NRULES, &src, type, buf, cap, len);
}

int ukm_data_make(ukm_slot *s, unsigned nn, ukm_object *o)
{
	if (nn >= UKM_MAX_DATA_FILES || !s->cache.have_files || !s->cache.data[nn].present)
		return -1;
	memset(o, 0, sizeof(*o));
	o->handle = ukm_file_handle(s, UKM_KIND_DATA, nn);
	o->cls = CKO_DATA;
	o->slot = s;
	o->file = nn;
	return 0;
}

/* A free D0 nn whose name is not taken (the card requires unique names). */
static CK_RV ukm_data_slot(const ukm_card_cache *c, const CK_ATTRIBUTE *label, unsigned *nn)
{
	unsigned i, free_nn = UKM_MAX_DATA_FILES;

	for (i = 0; i < UKM_MAX_DATA_FILES; i++) {
		if (!c->data[i].present) {
			if (free_nn == UKM_MAX_DATA_FILES)
				free_nn = i;
			continue;
		}
		if (c->data[i].name_len == label->ulValueLen &&
		    memcmp(c->data[i].name, label->pValue, label->ulValueLen) == 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if (free_nn == UKM_MAX_DATA_FILES)
		return CKR_DEVICE_MEMORY;
	*nn = free_nn;
	return CKR_OK;
}

CK_RV ukm_data_create(ukm_slot *s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	const CK_ATTRIBUTE *label = ukm_tmpl_get(t, n, CKA_LABEL);
	const CK_ATTRIBUTE *val = ukm_tmpl_get(t, n, CKA_VALUE);
	ukm_data_file *f;
	ukm_fsrc src;
	unsigned nn = 0;
	CK_RV rv;

	if (label == NULL || val == NULL)
		return CKR_TEMPLATE_INCOMPLETE;        /* the file's name and content */
	if (label->pValue == NULL || label->ulValueLen == 0 ||
	    label->ulValueLen > UKM_DATA_NAME_MAX || val->pValue == NULL ||
	    val->ulValueLen == 0 || val->ulValueLen > UKM_DATA_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (!s->cache.have_files && (rv = ukm_card_load_files(s)) != CKR_OK)
		return rv;
	if ((rv = ukm_data_slot(&s->cache, label, &nn)) != CKR_OK)
		return rv;
	src = (ukm_fsrc){ .s = s, .file = nn, .name = label->pValue,
		          .name_len = label->ulValueLen, .value = val->pValue,
		          .len = val->ulValueLen };
	if ((rv = ukm_frule_check(ukm_data_rules, UKM_DATA_NRULES, &src, t, n)) != CKR_OK)
		return rv;
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	rv = ukm_file_store(s, (uint16_t)(0xD000 | nn), label->pValue, label->ulValueLen,
	                    val->pValue, val->ulValueLen);
	if (rv != CKR_OK)
		return rv;
	f = &s->cache.data[nn];
	memset(f, 0, sizeof(*f));
	f->present = 1;
	memcpy(f->name, label->pValue, label->ulValueLen);
	f->name_len = label->ulValueLen;
	f->size = f->length = (uint32_t)val->ulValueLen;
	*h = ukm_file_handle(s, UKM_KIND_DATA, nn);
	return CKR_OK;
}

/* ---- C_DestroyObject ---- */

static CK_RV ukm_destroy_cert(ukm_slot *s, const ukm_object *o)
{
	ukm_card_cache *c = &s->cache;
	CK_RV rv;

	if ((rv = ukm_file_delete(s, (uint16_t)(0xC000 | o->file))) != CKR_OK)
		return rv;
	c->cont[o->file / 2].cert_len[o->file % 2] = 0;
	free(c->cert_body[o->file]);
	c->cert_body[o->file] = NULL;
	c->cert_body_len[o->file] = 0;
	return CKR_OK;
}

static CK_RV ukm_destroy_data(ukm_slot *s, const ukm_object *o)
{
	CK_RV rv;

	if ((rv = ukm_file_delete(s, (uint16_t)(0xD000 | o->file))) != CKR_OK)
		return rv;
	memset(&s->cache.data[o->file], 0, sizeof(s->cache.data[o->file]));
	return CKR_OK;
}

/* GM/T 0016 has no instruction deleting one key pair: a key goes with its container
 * (DELETE CONTAINER), which is done only when this pair is the container's only one; the
 * pair's other key and its certificate go too (PKCS#11 3.0 §5.7.3 lets a token destroy
 * what depends on the object). Otherwise more than asked would go: refused. */
static CK_RV ukm_destroy_key(ukm_slot *s, const ukm_object *o)
{
	unsigned ci = o->cont->index;
	CK_RV rv;

	if (o->cont->pair[o->usage ^ 1].present)
		return CKR_ACTION_PROHIBITED;
	rv = ukm_container_delete(s, ci);
	s->cache.have_containers = 0;
	free(s->cache.cert_body[2 * ci]);
	free(s->cache.cert_body[2 * ci + 1]);
	s->cache.cert_body[2 * ci] = s->cache.cert_body[2 * ci + 1] = NULL;
	if (rv == CKR_OK)
		rv = ukm_card_load_containers(s);
	return rv;
}

CK_RV ukm_object_destroy(ukm_slot *s, const ukm_object *o)
{
	CK_RV rv;

	/* the card writes only under the user PIN; §5.7.3 has no CKR_USER_NOT_LOGGED_IN */
	if (s->login != UKM_LOGIN_USER)
		return CKR_ACTION_PROHIBITED;
	if (o->cls == CKO_CERTIFICATE)
		rv = ukm_destroy_cert(s, o);
	else if (o->cls == CKO_DATA)
		rv = ukm_destroy_data(s, o);
	else
		rv = ukm_destroy_key(s, o);
	ukm_file_written(s);
	return rv == CKR_USER_NOT_LOGGED_IN ? CKR_ACTION_PROHIBITED : rv;
}
