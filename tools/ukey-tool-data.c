/* ukey-tool: data files (docs/ukey-tool.md data list/put/get/delete). A data file is a
 * CKO_DATA object: CKA_LABEL its name, CKA_VALUE its content, up to 64 KiB
 * (docs/pkcs11-profile.md "Data objects"). Public files are seen without a PIN; private ones
 * only after login. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uk_wipe.h"
#include "ukey-tool-keys.h"

static int find_data(struct ut *t, const char *name, CK_OBJECT_HANDLE *obj, size_t *n)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)name, strlen(name) },
	};

	return ut_find(t, tmpl, 2, obj, 1, n);
}

static int not_found(struct ut *t, const char *name)
{
	return ut_error(t, UT_EXIT_NOT_FOUND, "not-found", "no data file \"%s\" on the key", name);
}

/* The "data" member (and text lines) for the open session's data objects. */
int ut_list_data(struct ut *t, int text)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h[UT_MAX_OBJECTS];
	size_t n = 0;
	int rc;

	(void)text;
	if ((rc = ut_find(t, tmpl, 1, h, UT_MAX_OBJECTS, &n)) != 0)
		return rc;
	ut_json_array(t, "data");
	for (size_t i = 0; i < n; i++) {
		char name[65];
		CK_BBOOL priv = CK_FALSE;
		CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
		long l = ut_attr(t, h[i], CKA_LABEL, name, sizeof(name) - 1);

		name[l > 0 ? l : 0] = '\0';
		ut_attr(t, h[i], CKA_PRIVATE, &priv, sizeof(priv));
		if (t->p11->C_GetAttributeValue(t->session, h[i], &a, 1) != CKR_OK)
			a.ulValueLen = 0;
		ut_printf(t, "  %-32s %6lu bytes%s\n", name, (unsigned long)a.ulValueLen,
		          priv == CK_TRUE ? "  private" : "");
		ut_json_open(t, NULL);
		ut_json_str(t, "name", name);
		ut_json_int(t, "size", (long)a.ulValueLen);
		ut_json_bool(t, "private", priv == CK_TRUE);
		ut_json_close(t);
	}
	if (n == 0)
		ut_printf(t, "  (no data file)\n");
	ut_json_array_end(t);
	return 0;
}

int cmd_data_list(struct ut *t)
{
	int rc;

	if ((rc = ut_open(t, 0)) != 0)
		return rc;
	ut_json_open(t, NULL);
	if ((rc = ut_list_data(t, 1)) != 0)
		return rc;
	ut_json_close(t);
	return 0;
}

static int check_name(struct ut *t, const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32)
		return ut_usage_error(t, "a data file name has 1 to 32 bytes");
	return 0;
}

/* C_CreateObject (§5.7.1) of a CKO_DATA token object; an existing file of that name is
 * destroyed first, after confirmation. */
int cmd_data_put(struct ut *t)
{
	const char *name = t->o.args[0];
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE old, obj;
	unsigned char *data = NULL;
	size_t len = 0, n = 0;
	char q[120];
	CK_RV rv;
	int rc;

	if ((rc = check_name(t, name)) != 0 ||
	    (rc = ut_read_file(t, t->o.in, UT_DATA_MAX, &data, &len)) != 0 ||
	    (rc = ut_open(t, 1)) != 0 || (rc = ut_login(t, CKU_USER, 1)) != 0 ||
	    (rc = find_data(t, name, &old, &n)) != 0)
		goto out;
	snprintf(q, sizeof(q), "replace data file \"%s\"", name);
	if (n > 0 && (rc = ut_confirm(t, q)) != 0)
		goto out;
	if (n > 0 && (rv = t->p11->C_DestroyObject(t->session, old)) != CKR_OK) {
		rc = ut_rv(t, "C_DestroyObject", rv);
		goto out;
	}
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)name, strlen(name) },
		{ CKA_VALUE, data, (CK_ULONG)len },
	};
	rv = t->p11->C_CreateObject(t->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	if (rv != CKR_OK) {
		rc = ut_rv(t, "C_CreateObject", rv);
		goto out;
	}
	ut_printf(t, "data file \"%s\" stored (%zu bytes)%s\n", name, len, n ? ", replaced" : "");
	ut_json_open(t, NULL);
	ut_json_str(t, "name", name);
	ut_json_int(t, "size", (long)len);
	ut_json_bool(t, "replaced", n > 0);
	ut_json_close(t);
out:
	free(data);
	return rc;
}

/* The file, seen without a PIN when public; a private one needs a login (when a PIN source
 * is there: without one a file not seen is not found). */
static int find_maybe_private(struct ut *t, const char *name, CK_OBJECT_HANDLE *obj)
{
	size_t n = 0;
	int rc;

	if ((rc = find_data(t, name, obj, &n)) != 0 || n > 0)
		return rc;
	if (!ut_pin_source_exists(t, UT_PIN_USER))
		return not_found(t, name);
	if ((rc = ut_login(t, CKU_USER, 1)) != 0 || (rc = find_data(t, name, obj, &n)) != 0)
		return rc;
	return n > 0 ? 0 : not_found(t, name);
}

int cmd_data_get(struct ut *t)
{
	const char *name = t->o.args[0];
	CK_OBJECT_HANDLE obj;
	unsigned char *val = NULL;
	char *b64 = NULL;
	size_t n = 0;
	int rc;

	if ((rc = ut_open(t, 0)) != 0 || (rc = find_maybe_private(t, name, &obj)) != 0 ||
	    (rc = ut_attr_alloc(t, obj, CKA_VALUE, &val, &n)) != 0)
		goto out;
	ut_json_open(t, NULL);
	ut_json_str(t, "name", name);
	ut_json_int(t, "size", (long)n);
	if (strcmp(t->o.out, "-") == 0 && t->o.json) {
		if (ut_base64(val, n, &b64) != 0) {
			rc = ut_error(t, UT_EXIT_FAILED, "failed", "out of memory");
			goto out;
		}
		ut_json_str(t, "base64", b64);
	} else {
		ut_json_str(t, "out", t->o.out);
		if ((rc = ut_write_file(t, t->o.out, val, n)) != 0)
			goto out;
	}
	ut_json_close(t);
	if (strcmp(t->o.out, "-") != 0)
		ut_printf(t, "data file \"%s\" (%zu bytes) written to %s\n", name, n, t->o.out);
out:
	if (val != NULL)
		uk_wipe(val, n);
	free(val);
	free(b64);
	return rc;
}

int cmd_data_delete(struct ut *t)
{
	const char *name = t->o.args[0];
	CK_OBJECT_HANDLE obj;
	size_t n = 0;
	char q[120];
	CK_RV rv;
	int rc;

	if ((rc = ut_choose_key(t)) != 0)
		return rc;
	snprintf(q, sizeof(q), "delete data file \"%s\" from key %s", name, t->key.serial);
	if ((rc = ut_open(t, 1)) != 0 || (rc = ut_login(t, CKU_USER, 1)) != 0 ||
	    (rc = find_data(t, name, &obj, &n)) != 0)
		return rc;
	if (n == 0)
		return not_found(t, name);
	if ((rc = ut_confirm(t, q)) != 0)
		return rc;
	rv = t->p11->C_DestroyObject(t->session, obj);
	if (rv != CKR_OK)
		return ut_rv(t, "C_DestroyObject", rv);
	ut_printf(t, "data file \"%s\" deleted\n", name);
	ut_json_open(t, NULL);
	ut_json_str(t, "name", name);
	ut_json_bool(t, "deleted", 1);
	ut_json_close(t);
	return 0;
}
