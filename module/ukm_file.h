/* ukey module: what ukm_cert.c and ukm_data.c share: the attribute rules of objects kept in
 * card files (certificates C0 KR, data files D0 nn; docs/apdu.md "Files"), computed from a
 * source that is either a file on the card (read lazily) or a template being created. */
#ifndef UKM_FILE_H
#define UKM_FILE_H

#include "ukm.h"
#include "ukm_x509.h"

/* The object's inputs. value NULL: not read yet (len is known from the card's lists). */
typedef struct ukm_fsrc {
	ukm_slot *s;
	unsigned file;                  /* KR (certificate) or nn (data file) */
	const char *name;               /* CKA_LABEL */
	size_t name_len;
	const uint8_t *value;           /* CKA_VALUE */
	size_t len;
} ukm_fsrc;

struct ukm_frule;
/* want: the bytes are needed (else the length is enough, if known without reading). */
typedef CK_RV (*ukm_frule_fn)(ukm_fsrc *src, const struct ukm_frule *r, int want, ukm_val *v);

typedef struct ukm_frule {
	CK_ATTRIBUTE_TYPE type;
	ukm_frule_fn get;
	CK_ULONG k;                     /* constant of the *_k getters */
} ukm_frule;

CK_RV ukm_fattr_bool_k(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v);
CK_RV ukm_fattr_ulong_k(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v);
CK_RV ukm_fattr_empty(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v);
CK_RV ukm_fattr_label(ukm_fsrc *src, const ukm_frule *r, int want, ukm_val *v);

/* One attribute of a file object by its rule table. */
CK_RV ukm_frule_attr(const ukm_frule *rules, size_t n, ukm_fsrc *src, CK_ATTRIBUTE_TYPE type,
                     uint8_t *buf, size_t cap, size_t *len);
/* C_CreateObject: every template attribute must be one of the class (else
 * CKR_ATTRIBUTE_TYPE_INVALID) and equal what the object will have (else
 * CKR_ATTRIBUTE_VALUE_INVALID). */
CK_RV ukm_frule_check(const ukm_frule *rules, size_t n, ukm_fsrc *src, CK_ATTRIBUTE_PTR t,
                      CK_ULONG count);
/* The template's attribute of that type, or NULL. */
const CK_ATTRIBUTE *ukm_tmpl_get(CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_ATTRIBUTE_TYPE type);
/* Create file fid (size n, name for data files), write value, in one PC/SC transaction;
 * a file left half written is deleted again. Returns the card's CK_RV. */
CK_RV ukm_file_store(ukm_slot *s, uint16_t fid, const char *name, size_t nlen,
                     const uint8_t *value, size_t n);
/* Handle of a file object: kind UKM_KIND_CERT (low = KR) or UKM_KIND_DATA (low = nn). */
CK_OBJECT_HANDLE ukm_file_handle(const ukm_slot *s, unsigned kind, unsigned low);
/* The write is ours: the token's free space (GET DATA 00 tag 86) is stale. */
void ukm_file_written(ukm_slot *s);

#endif
