/* p11t_object.c — object management (§5.7): searching, attribute reading rules, visibility of
 * private objects, invalid handles. Objects come from key generation (the one way every
 * module under test creates them). */
#include <string.h>

#include "p11t.h"

#define MAX_OBJS 64
#define BOGUS_SESSION 0x7fff1234UL

/* An RW session logged in as the user with the profile's generic key pair labelled label. */
static bool session_with_key(struct p11t *t, const char *label, CK_SESSION_HANDLE *s,
                             struct p11t_keypair *kp)
{
	if (!p11t_open(t, true, s) || !p11t_login_user(t, *s))
		return false;
	return p11t_rv(t, p11t_keygen(t, *s, t->prof->generic_key, label, kp), CKR_OK,
	               "C_GenerateKeyPair");
}

/* §5.7.7-§5.7.9: C_FindObjects/C_FindObjectsFinal without C_FindObjectsInit are
 * CKR_OPERATION_NOT_INITIALIZED; a second C_FindObjectsInit is CKR_OPERATION_ACTIVE;
 * C_FindObjectsFinal ends the search. */
int p11t_case_find_operation_state(struct p11t *t)
{
	CK_OBJECT_HANDLE objs[MAX_OBJS];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_FindObjects(s, objs, MAX_OBJS, &n), CKR_OPERATION_NOT_INITIALIZED,
	        "C_FindObjects without init");
	p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED,
	        "C_FindObjectsFinal without init");
	if (!p11t_rv(t, t->f->C_FindObjectsInit(s, NULL, 0), CKR_OK, "C_FindObjectsInit"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE,
	        "second C_FindObjectsInit");
	p11t_rv(t, t->f->C_FindObjects(s, objs, MAX_OBJS, &n), CKR_OK, "C_FindObjects");
	p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OK, "C_FindObjectsFinal");
	p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED,
	        "second C_FindObjectsFinal");
	p11t_rv(t, t->f->C_FindObjects(s, objs, MAX_OBJS, &n), CKR_OPERATION_NOT_INITIALIZED,
	        "C_FindObjects after final");
	return p11t_result(t);
}

static bool obj_in(CK_OBJECT_HANDLE h, const CK_OBJECT_HANDLE *list, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == h)
			return true;
	return false;
}

/* Every object, one C_FindObjects call per object (ulMaxObjectCount 1). */
static bool find_one_by_one(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out,
                            CK_ULONG *n)
{
	CK_ULONG got = 1;
	bool ok = true;

	*n = 0;
	if (!p11t_rv(t, t->f->C_FindObjectsInit(s, NULL, 0), CKR_OK, "C_FindObjectsInit"))
		return false;
	while (ok && got == 1 && *n < MAX_OBJS) {
		ok = p11t_rv(t, t->f->C_FindObjects(s, out + *n, 1, &got), CKR_OK,
		             "C_FindObjects(max 1)");
		*n += ok ? got : 0;
	}
	return p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OK, "C_FindObjectsFinal") && ok;
}

/* §5.7.8: an empty template matches every object; C_FindObjects returns them in as many calls
 * as the caller wants, the same set whatever ulMaxObjectCount, each object once. */
int p11t_case_find_paging(struct p11t *t)
{
	CK_OBJECT_HANDLE all[MAX_OBJS], paged[MAX_OBJS];
	CK_ULONG n_all = 0, n_paged = 0;
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, "p11t-find", &s, &kp))
		return P11T_FAIL;
	if (!p11t_rv(t, t->f->C_FindObjectsInit(s, NULL, 0), CKR_OK, "C_FindObjectsInit") ||
	    !p11t_rv(t, t->f->C_FindObjects(s, all, MAX_OBJS, &n_all), CKR_OK, "C_FindObjects") ||
	    !p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OK, "C_FindObjectsFinal") ||
	    !find_one_by_one(t, s, paged, &n_paged))
		return P11T_FAIL;
	p11t_true(t, obj_in(kp.pub, all, n_all) && obj_in(kp.priv, all, n_all),
	          "the generated key pair is not among the %lu objects found",
	          (unsigned long)n_all);
	p11t_true(t, n_paged == n_all, "%lu objects one by one, %lu at once",
	          (unsigned long)n_paged, (unsigned long)n_all);
	for (CK_ULONG i = 0; i < n_paged; i++) {
		p11t_true(t, obj_in(paged[i], all, n_all), "object %lu found only one by one",
		          (unsigned long)paged[i]);
		p11t_true(t, !obj_in(paged[i], paged + i + 1, n_paged - i - 1),
		          "object %lu found twice", (unsigned long)paged[i]);
	}
	return p11t_result(t);
}

/* §4.1.2 (CKA_PRIVATE): private objects are visible only while the user is logged in;
 * public objects always. */
int p11t_case_private_hidden(struct p11t *t)
{
	static const char label[] = "p11t-priv";
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n = 0;
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, label, &s, &kp) ||
	    !p11t_rv(t, t->f->C_Logout(s), CKR_OK, "C_Logout"))
		return P11T_FAIL;
	if (p11t_find(t, s, CKO_PRIVATE_KEY, label, found, 4, &n))
		p11t_true(t, n == 0, "%lu private keys found without login", (unsigned long)n);
	if (p11t_find(t, s, CKO_PUBLIC_KEY, label, found, 4, &n))
		p11t_true(t, n == 1 && found[0] == kp.pub,
		          "public key not found (once) without login (%lu found)",
		          (unsigned long)n);
	if (!p11t_login_user(t, s))
		return P11T_FAIL;
	/* Not necessarily kp.priv: §3.4 lets a handle change once the object was inaccessible
	 * (SoftHSM2 gives it a new one after the logout). */
	if (p11t_find(t, s, CKO_PRIVATE_KEY, label, found, 4, &n))
		p11t_true(t, n == 1, "private key not found (once) after login (%lu found)",
		          (unsigned long)n);
	return p11t_result(t);
}

/* §5.7.5 rules 3-5: NULL pValue → exact length; a buffer too small → CKR_BUFFER_TOO_SMALL
 * with ulValueLen = CK_UNAVAILABLE_INFORMATION; a big enough one → the value and its length. */
static void check_length_rules(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
	unsigned char buf[128];
	CK_ATTRIBUTE a = { CKA_EC_POINT, NULL, 0 };
	CK_ULONG len;

	if (!p11t_rv(t, t->f->C_GetAttributeValue(s, obj, &a, 1), CKR_OK,
	             "C_GetAttributeValue(CKA_EC_POINT, NULL)") ||
	    !p11t_true(t, a.ulValueLen > 1 && a.ulValueLen <= sizeof(buf),
	               "CKA_EC_POINT length %lu", (unsigned long)a.ulValueLen))
		return;
	len = a.ulValueLen;
	a.pValue = buf;
	a.ulValueLen = len - 1;
	p11t_rv(t, t->f->C_GetAttributeValue(s, obj, &a, 1), CKR_BUFFER_TOO_SMALL,
	        "C_GetAttributeValue(CKA_EC_POINT, one byte short)");
	p11t_true(t, a.ulValueLen == CK_UNAVAILABLE_INFORMATION,
	          "buffer too small: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION",
	          (unsigned long)a.ulValueLen);
	a.ulValueLen = len;
	p11t_rv(t, t->f->C_GetAttributeValue(s, obj, &a, 1), CKR_OK,
	        "C_GetAttributeValue(CKA_EC_POINT, exact size)");
	p11t_true(t, a.ulValueLen == len, "exact buffer: ulValueLen %lu, want %lu",
	          (unsigned long)a.ulValueLen, (unsigned long)len);
}

/* §5.7.5 rule 2 and its note: an attribute the object lacks gives CKR_ATTRIBUTE_TYPE_INVALID
 * and CK_UNAVAILABLE_INFORMATION, and every other attribute of the template is still
 * processed. */
static void check_type_invalid(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
	CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	unsigned char modulus[256];
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_MODULUS, modulus, sizeof(modulus) }, /* an RSA attribute, on an EC key */
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
	};

	p11t_rv(t, t->f->C_GetAttributeValue(s, obj, a, 3), CKR_ATTRIBUTE_TYPE_INVALID,
	        "C_GetAttributeValue(CKA_CLASS, CKA_MODULUS, CKA_KEY_TYPE) of an EC key");
	p11t_true(t, a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION,
	          "CKA_MODULUS: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION",
	          (unsigned long)a[1].ulValueLen);
	p11t_true(t, cls == CKO_PUBLIC_KEY && a[0].ulValueLen == sizeof(cls),
	          "CKA_CLASS not processed after an invalid type (0x%lx)", (unsigned long)cls);
	p11t_true(t, kt == CKK_EC && a[2].ulValueLen == sizeof(kt),
	          "CKA_KEY_TYPE not processed after an invalid type (0x%lx)", (unsigned long)kt);
}

/* §4.4-§4.9 / Mech §2.3.3-§2.3.4: what key generation must have produced. */
static void check_key_attributes(struct p11t *t, CK_SESSION_HANDLE s,
                                 const struct p11t_keypair *kp)
{
	CK_BBOOL token = CK_FALSE, local = CK_FALSE, sign = CK_FALSE, priv = CK_FALSE;
	CK_BBOOL sensitive = CK_FALSE;
	CK_ATTRIBUTE a[] = {
		{ CKA_TOKEN, &token, sizeof(token) },
		{ CKA_LOCAL, &local, sizeof(local) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_PRIVATE, &priv, sizeof(priv) },
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
	};

	unsigned char params[32];
	CK_ATTRIBUTE p = { CKA_EC_PARAMS, params, sizeof(params) };
	const unsigned char *want;
	size_t want_len;

	if (p11t_rv(t, t->f->C_GetAttributeValue(s, kp->priv, a, 5), CKR_OK,
	            "C_GetAttributeValue(private key booleans)"))
		p11t_true(t, token && local && sign && priv && sensitive,
		          "private key: TOKEN %u LOCAL %u SIGN %u PRIVATE %u SENSITIVE %u, want all 1",
		          token, local, sign, priv, sensitive);
	want = p11t_ec_params(kp->kind, &want_len);
	if (p11t_rv(t, t->f->C_GetAttributeValue(s, kp->pub, &p, 1), CKR_OK,
	            "C_GetAttributeValue(public CKA_EC_PARAMS)"))
		p11t_true(t, p.ulValueLen == want_len && memcmp(params, want, want_len) == 0,
		          "public CKA_EC_PARAMS differs from the template's curve");
}

int p11t_case_attribute_rules(struct p11t *t)
{
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, "p11t-attr", &s, &kp))
		return P11T_FAIL;
	check_length_rules(t, s, kp.pub);
	check_type_invalid(t, s, kp.pub);
	check_key_attributes(t, s, &kp);
	return p11t_result(t);
}

/* §5.7.5 rule 1: a sensitive attribute (CKA_VALUE of a sensitive private key, §4.9) gives
 * CKR_ATTRIBUTE_SENSITIVE and CK_UNAVAILABLE_INFORMATION, also for a length query, and the
 * other attributes of the template are still returned. */
int p11t_case_attribute_sensitive(struct p11t *t)
{
	CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
	unsigned char value[128];
	CK_ATTRIBUTE a[] = {
		{ CKA_VALUE, value, sizeof(value) },
		{ CKA_CLASS, &cls, sizeof(cls) },
	};
	CK_ATTRIBUTE q = { CKA_VALUE, NULL, 0 };
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, "p11t-attr", &s, &kp))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_GetAttributeValue(s, kp.priv, a, 2), CKR_ATTRIBUTE_SENSITIVE,
	        "C_GetAttributeValue(private CKA_VALUE, CKA_CLASS)");
	p11t_true(t, a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
	          "CKA_VALUE: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION",
	          (unsigned long)a[0].ulValueLen);
	p11t_true(t, cls == CKO_PRIVATE_KEY, "CKA_CLASS not processed after a sensitive one");
	p11t_rv(t, t->f->C_GetAttributeValue(s, kp.priv, &q, 1), CKR_ATTRIBUTE_SENSITIVE,
	        "C_GetAttributeValue(private CKA_VALUE, NULL)");
	p11t_true(t, q.ulValueLen == CK_UNAVAILABLE_INFORMATION,
	          "CKA_VALUE length query: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION",
	          (unsigned long)q.ulValueLen);
	return p11t_result(t);
}

/* §5.1 (CKR_SESSION_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID):
 * handles that name nothing are refused with the error of their kind. CK_INVALID_HANDLE (0)
 * is never a valid handle (§3.3, §3.4). */
int p11t_case_invalid_handles(struct p11t *t)
{
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
	CK_SESSION_HANDLE s;

	p11t_rv(t, t->f->C_GetAttributeValue(CK_INVALID_HANDLE, 1, &a, 1),
	        CKR_SESSION_HANDLE_INVALID, "C_GetAttributeValue(session 0)");
	p11t_rv(t, t->f->C_FindObjectsInit(BOGUS_SESSION, NULL, 0), CKR_SESSION_HANDLE_INVALID,
	        "C_FindObjectsInit(unknown session)");
	p11t_rv(t,
	        t->f->C_Login(BOGUS_SESSION, CKU_USER, (CK_UTF8CHAR_PTR)t->user_pin,
	                      (CK_ULONG)t->user_pin_len),
	        CKR_SESSION_HANDLE_INVALID, "C_Login(unknown session)");
	p11t_rv(t, t->f->C_Logout(BOGUS_SESSION), CKR_SESSION_HANDLE_INVALID,
	        "C_Logout(unknown session)");
	if (!p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_GetAttributeValue(s, CK_INVALID_HANDLE, &a, 1),
	        CKR_OBJECT_HANDLE_INVALID, "C_GetAttributeValue(object 0)");
	return p11t_result(t);
}

/* §5.11.1 and §5.1 (CKR_KEY_HANDLE_INVALID: "0 is never a valid key handle"): a key handle
 * that names nothing is CKR_KEY_HANDLE_INVALID in C_SignInit, not CKR_OBJECT_HANDLE_INVALID
 * (which C_SignInit does not list). */
int p11t_case_sign_init_invalid_key(struct p11t *t)
{
	CK_MECHANISM mech;
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s) || !p11t_login_user(t, s))
		return P11T_FAIL;
	p11t_sign_mech(t->prof->generic_key, &mech);
	p11t_rv(t, t->f->C_SignInit(s, &mech, CK_INVALID_HANDLE), CKR_KEY_HANDLE_INVALID,
	        "C_SignInit(key 0)");
	return p11t_result(t);
}
