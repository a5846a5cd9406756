/* ukey-tool: the PKCS#11 side. The module is loaded with dlopen (--module, $UKEY_MODULE, else
 * the installed libukey-pkcs11.so); the key is chosen among the slots (one per PC/SC reader);
 * logins take the PIN from the sources of ukey-tool-pin.c; every CK_RV becomes a message and
 * an exit status in one table (docs/ukey-tool.md "Messages a user can act on"). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uk_wipe.h"
#include "ukey-tool.h"

#define UT_DEFAULT_MODULE "libukey-pkcs11.so"
#define UT_MSG_REMOVED "the key was removed during the operation — insert it and try again"

/* ---- CK_RV names and explanations -------------------------------------------------------- */

struct rv_info {
	CK_RV rv;
	const char *name;
	const char *why;
};

static const struct rv_info rv_table[] = {
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", "the module failed" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "out of memory" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", "the module refused the arguments" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "the key answered with an error" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", "the key is full" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the key was removed" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", "no key in the reader" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", "the card is not a ukey" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", "no such slot" },
	{ CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", "cancelled on the key" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", "not supported by the module" },
	{ CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED", "the key does not allow it" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", "no such key" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", "wrong key type" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
	  "the key pair does not have that usage" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", "the algorithm does not fit the key" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", "bad algorithm parameter" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", "the object is gone" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", "wrong PIN" },
	{ CKR_PIN_INVALID, "CKR_PIN_INVALID", "the PIN breaks the policy" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", "the PIN has a wrong length" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED", "the PIN is locked" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", "the session is gone" },
	{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", "read-only session" },
	{ CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", "another session is open on the key" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", "an attribute is missing" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT",
	  "the key refused the object as given" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", "unknown attribute" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", "bad attribute value" },
	{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", "the data is too long" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "not logged in" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", "already logged in" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", "no user PIN set" },
	{ CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
	  "another user is logged in" },
	{ CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID",
	  "the blob does not open with this container's signing key" },
	{ CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE", "the blob has a wrong length" },
	{ CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
	  "the container's signing pair is not SM2" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", "module not initialised" },
};

static const struct rv_info *rv_find(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_table) / sizeof(rv_table[0]); i++)
		if (rv_table[i].rv == rv)
			return &rv_table[i];
	return NULL;
}

const char *ut_rv_name(CK_RV rv)
{
	const struct rv_info *r = rv_find(rv);

	return r != NULL ? r->name : "CKR_?";
}

/* The one CK_RV -> (exit, code, message) map; PIN answers with tries go through
 * ut_pin_error, which knows the user type. */
int ut_rv(struct ut *t, const char *what, CK_RV rv)
{
	const struct rv_info *r = rv_find(rv);

	switch (rv) {
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_HANDLE_INVALID:        /* the module closed it: the key went away */
		return ut_error(t, UT_EXIT_NO_KEY, "no-key", UT_MSG_REMOVED);
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return ut_pin_error(t, CKU_USER, rv);
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return ut_error(t, UT_EXIT_POLICY, "pin-policy", "the new PIN must be 8-12 "
		                "letters and digits, with at least one of each");
	default:
		break;
	}
	if (r == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "%s failed: CKR 0x%08lx (unknown "
		                "return value)", what, (unsigned long)rv);
	return ut_error(t, UT_EXIT_FAILED, "failed", "%s failed: %s (%s)", what, r->name, r->why);
}

/* ---- module ------------------------------------------------------------------------------ */

/* The vendor interface "ukey" 1.1 (ukey-pkcs11.h) for PIN tries; 1.0 has no get_pin_status,
 * and then the token flags stand in (ut_pin_status). */
static void ut_load_vendor(struct ut *t, CK_C_GetInterface get_iface)
{
	CK_VERSION v = { UKEY_INTERFACE_VERSION_MAJOR, UKEY_INTERFACE_VERSION_MINOR };
	CK_INTERFACE_PTR iface = NULL;
	CK_UKEY_FUNCTION_LIST *fl;

	if (get_iface == NULL ||
	    get_iface((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v, &iface, 0) != CKR_OK ||
	    iface == NULL || iface->pFunctionList == NULL)
		return;
	fl = iface->pFunctionList;
	if (fl->version.major == 1 && fl->version.minor >= 1 && fl->get_pin_status != NULL)
		t->vendor = fl;
}

int ut_load(struct ut *t)
{
	const char *path = t->o.module_path;
	CK_C_GetFunctionList get;
	CK_RV rv;

	if (path == NULL || *path == '\0')
		path = getenv("UKEY_MODULE");
	if (path == NULL || *path == '\0')
		path = UT_DEFAULT_MODULE;
	t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (t->dl == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "cannot load the module %s: %s", path,
		                dlerror());
	get = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList");
	if (get == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "%s is not a PKCS#11 module", path);
	rv = get(&t->p11);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetFunctionList", rv);
	rv = t->p11->C_Initialize(NULL);
	if (rv != CKR_OK)
		return ut_rv(t, "C_Initialize", rv);
	t->initialized = 1;
	ut_load_vendor(t, (CK_C_GetInterface)dlsym(t->dl, "C_GetInterface"));
	return 0;
}

void ut_unload(struct ut *t)
{
	ut_close(t);
	if (t->initialized)
		t->p11->C_Finalize(NULL);
	t->initialized = 0;
	if (t->dl != NULL)
		dlclose(t->dl);
	t->dl = NULL;
}

/* ---- slots: keys and readers ---------------------------------------------------------- */

/* Slot description "ukey <20 digits> (<reader>)" for a slot with a key (docs/pkcs11-profile.md
 * "Slots and tokens"), the reader's name for an empty one. */
static void ut_slot_names(const CK_SLOT_INFO *si, struct ut_key *k)
{
	char d[sizeof(si->slotDescription) + 1];
	size_t n = ut_trim(si->slotDescription, sizeof(si->slotDescription));
	char *open;

	memcpy(d, si->slotDescription, n);
	d[n] = '\0';
	k->serial[0] = '\0';
	snprintf(k->reader, sizeof(k->reader), "%s", d);
	open = strchr(d, '(');
	if (strncmp(d, "ukey ", 5) == 0 && open != NULL && n > 0 && d[n - 1] == ')' &&
	    open - d == 26 && strspn(d + 5, "0123456789") == 20) {
		memcpy(k->serial, d + 5, 20);
		k->serial[20] = '\0';
		d[n - 1] = '\0';
		snprintf(k->reader, sizeof(k->reader), "%s", open + 1);
	}
}

static void ut_key_serial16(struct ut *t, struct ut_key *k)
{
	CK_TOKEN_INFO ti;
	size_t n;

	if (k->serial[0] != '\0' || t->p11->C_GetTokenInfo(k->slot, &ti) != CKR_OK)
		return;
	n = ut_trim(ti.serialNumber, sizeof(ti.serialNumber));
	memcpy(k->serial, ti.serialNumber, n);
	k->serial[n] = '\0';
}

/* Every slot (C_GetSlotList(FALSE): one per reader); keys = slots with a token. */
int ut_slots(struct ut *t, struct ut_key *keys, size_t *nkeys, struct ut_key *empty,
             size_t *nempty)
{
	CK_SLOT_ID ids[UT_MAX_SLOTS];
	CK_ULONG n = UT_MAX_SLOTS;
	CK_SLOT_INFO si;
	CK_RV rv;

	*nkeys = *nempty = 0;
	rv = t->p11->C_GetSlotList(CK_FALSE, ids, &n);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetSlotList", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		struct ut_key k = { .slot = ids[i] };
		if (t->p11->C_GetSlotInfo(ids[i], &si) != CKR_OK)
			continue;
		ut_slot_names(&si, &k);
		if (si.flags & CKF_TOKEN_PRESENT) {
			ut_key_serial16(t, &k);
			keys[(*nkeys)++] = k;
		} else {
			empty[(*nempty)++] = k;
		}
	}
	return 0;
}

static int ut_no_key(struct ut *t, const struct ut_key *empty, size_t nempty)
{
	char readers[400] = "";
	size_t o = 0;

	for (size_t i = 0; i < nempty && o < sizeof(readers); i++)
		o += (size_t)snprintf(readers + o, sizeof(readers) - o, "%s%s", i ? ", " : "",
		                      empty[i].reader);
	if (nempty == 0)
		return ut_error(t, UT_EXIT_NO_KEY, "no-key",
		                "no ukey inserted (pcscd running? no reader seen)");
	return ut_error(t, UT_EXIT_NO_KEY, "no-key",
	                "no ukey inserted (pcscd running? readers seen: %s)", readers);
}

static int ut_several(struct ut *t, const struct ut_key *keys, size_t n, const char *what)
{
	char list[600] = "";
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
		                      keys[i].serial);
	return ut_error(t, UT_EXIT_USAGE, "usage", "%zu keys %s: choose one with --serial (%s)",
	                n, what, list);
}

/* --serial: the 20 digits, the 16 of the token info or a unique suffix of >= 4 digits. */
static int ut_by_serial(struct ut *t, struct ut_key *keys, size_t n)
{
	const char *s = t->o.serial;
	size_t sl = strlen(s), hits = 0;

	if (sl < 4 || strspn(s, "0123456789") != sl)
		return ut_usage_error(t, "--serial wants the key's serial or its last 4 digits or "
		                      "more");
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(keys[i].serial);
		if (kl >= sl && strcmp(keys[i].serial + kl - sl, s) == 0) {
			keys[hits++] = keys[i];
		}
	}
	if (hits == 0)
		return ut_error(t, UT_EXIT_NO_KEY, "no-key", "no ukey with serial %s inserted", s);
	if (hits > 1)
		return ut_several(t, keys, hits, "match that serial");
	t->key = keys[0];
	t->have_key = 1;
	return 0;
}

/* The key to work on: --slot, --serial, else the only one inserted. */
int ut_choose_key(struct ut *t)
{
	struct ut_key keys[UT_MAX_SLOTS], empty[UT_MAX_SLOTS];
	size_t nk, ne;
	int rc;

	if (t->have_key)
		return 0;
	if ((rc = ut_slots(t, keys, &nk, empty, &ne)) != 0)
		return rc;
	if (t->o.have_slot) {
		for (size_t i = 0; i < nk; i++)
			if (keys[i].slot == t->o.slot) {
				t->key = keys[i];
				t->have_key = 1;
				return 0;
			}
		return ut_error(t, UT_EXIT_NO_KEY, "no-key", "no ukey in slot %lu",
		                (unsigned long)t->o.slot);
	}
	if (nk == 0)
		return ut_no_key(t, empty, ne);
	if (t->o.serial != NULL)
		return ut_by_serial(t, keys, nk);
	if (nk > 1)
		return ut_several(t, keys, nk, "inserted");
	t->key = keys[0];
	t->have_key = 1;
	return 0;
}

int ut_open(struct ut *t, int rw)
{
	CK_RV rv;
	int rc;

	if (t->have_session && (t->rw || !rw))
		return 0;
	ut_close(t);
	if ((rc = ut_choose_key(t)) != 0)
		return rc;
	rv = t->p11->C_OpenSession(t->key.slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0),
	                           NULL, NULL, &t->session);
	if (rv != CKR_OK)
		return ut_rv(t, "C_OpenSession", rv);
	t->have_session = 1;
	t->rw = rw;
	return 0;
}

void ut_close(struct ut *t)
{
	if (t->have_session)
		t->p11->C_CloseSession(t->session);
	t->have_session = 0;
}

/* ---- PIN state and login ---------------------------------------------------------------- */

/* Vendor get_pin_status when the module has it (ukey-pkcs11.h 1.1), else what the token flags
 * tell (PKCS#11 3.0 §5.5.5 CK_TOKEN_INFO flags): locked, final try, to be changed. */
int ut_pin_status(struct ut *t, CK_SLOT_ID slot, CK_USER_TYPE user, struct ut_pin_status *st)
{
	CK_UKEY_PIN_STATUS vs;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int so = user == CKU_SO;

	memset(st, 0, sizeof(*st));
	st->tries_left = st->max_tries = -1;
	st->initialized = 1;
	if (t->vendor != NULL && t->vendor->get_pin_status(slot, user, &vs) == CKR_OK) {
		st->tries_left = (long)vs.tries_left;
		st->max_tries = (long)vs.max_tries;
		st->must_change = vs.must_change == CK_TRUE;
		st->initialized = vs.initialized == CK_TRUE;
		st->locked = vs.tries_left == 0;
		return 0;
	}
	rv = t->p11->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetTokenInfo", rv);
	st->locked = (ti.flags & (so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED)) != 0;
	st->must_change = (ti.flags & (so ? CKF_SO_PIN_TO_BE_CHANGED :
	                                    CKF_USER_PIN_TO_BE_CHANGED)) != 0;
	if (!so)
		st->initialized = (ti.flags & CKF_USER_PIN_INITIALIZED) != 0;
	if (st->locked)
		st->tries_left = 0;
	else if (ti.flags & (so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY))
		st->tries_left = 1;
	return 0;
}

const char *ut_pin_state(const struct ut_pin_status *st)
{
	if (!st->initialized)
		return "not-set";
	if (st->locked)
		return "locked";
	return st->must_change ? "must-change" : "ok";
}

static int ut_locked_error(struct ut *t, int so)
{
	t->err_tries = t->err_exit == 0 ? 0 : t->err_tries;
	if (so)
		return ut_error(t, UT_EXIT_LOCKED, "pin-locked",
		                "SO PIN locked — the key must be re-issued by your CA");
	return ut_error(t, UT_EXIT_LOCKED, "pin-locked",
	                "PIN locked — unlock with the SO PIN: ukey-tool unlock");
}

/* A refused PIN: wrong (with the tries left, read again from the key), locked, or not set. */
int ut_pin_error(struct ut *t, CK_USER_TYPE user, CK_RV rv)
{
	struct ut_pin_status st;
	const char *who = user == CKU_SO ? "SO PIN" : "PIN";

	if (rv == CKR_USER_PIN_NOT_INITIALIZED)
		return ut_error(t, UT_EXIT_LOCKED, "pin-not-set",
		                "no user PIN set — set one with the SO PIN: ukey-tool unlock");
	if (rv == CKR_PIN_LOCKED)
		return ut_locked_error(t, user == CKU_SO);
	if (!t->have_key || ut_pin_status(t, t->key.slot, user, &st) != 0)
		st.tries_left = -1;
	if (st.tries_left == 0)
		return ut_locked_error(t, user == CKU_SO);
	if (t->err_exit == 0)
		t->err_tries = st.tries_left;
	if (st.tries_left == 1)
		return ut_error(t, UT_EXIT_WRONG_PIN, "wrong-pin", "wrong %s, 1 try left — one more "
		                "wrong PIN locks the key", who);
	if (st.tries_left < 0)
		return ut_error(t, UT_EXIT_WRONG_PIN, "wrong-pin", "wrong %s", who);
	return ut_error(t, UT_EXIT_WRONG_PIN, "wrong-pin", "wrong %s, %ld tries left", who,
	                st.tries_left);
}

/* PKCS#11 3.0 §5.6.8 C_Login; CKR_USER_ALREADY_LOGGED_IN is success (the login state is per
 * token in this process). A NULL PIN is the pinpad path (CKF_PROTECTED_AUTHENTICATION_PATH). */
int ut_login_pin(struct ut *t, CK_USER_TYPE user, const struct ut_pin *pin)
{
	CK_RV rv;

	rv = t->p11->C_Login(t->session, user, pin->pinpad ? NULL : (CK_UTF8CHAR_PTR)pin->buf,
	                     pin->pinpad ? 0 : (CK_ULONG)pin->len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED)
		return ut_pin_error(t, user, rv);
	return ut_rv(t, "C_Login", rv);
}

static void ut_note_must_change(struct ut *t)
{
	struct ut_pin_status st;

	if (ut_pin_status(t, t->key.slot, CKU_USER, &st) == 0 && st.must_change)
		fprintf(stderr, "note: the PIN must be changed: ukey-tool change-pin\n");
}

/* Log in on the open session: the pinpad when the key has one (user only, allow_pinpad), else
 * a PIN from the sources; then the must-change note for the user. */
int ut_login(struct ut *t, CK_USER_TYPE user, int allow_pinpad)
{
	struct ut_pin pin;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int rc;

	memset(&pin, 0, sizeof(pin));
	rv = t->p11->C_GetTokenInfo(t->key.slot, &ti);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetTokenInfo", rv);
	if (user == CKU_USER && allow_pinpad && (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
		fprintf(stderr, "Enter the PIN on the key's pinpad\n");
		pin.pinpad = 1;
	} else if ((rc = ut_pin_get(t, user == CKU_SO ? UT_PIN_SO : UT_PIN_USER, &pin)) != 0) {
		return rc;
	}
	rc = ut_login_pin(t, user, &pin);
	ut_pin_wipe(&pin);
	if (rc == 0 && user == CKU_USER)
		ut_note_must_change(t);
	return rc;
}

/* ---- objects ------------------------------------------------------------------------------ */

/* One attribute into buf; its length, or -1 when absent or unreadable. */
long ut_attr(struct ut *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, void *buf, size_t cap)
{
	CK_ATTRIBUTE a = { type, buf, (CK_ULONG)cap };

	if (t->p11->C_GetAttributeValue(t->session, obj, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return -1;
	return (long)a.ulValueLen;
}

int ut_find(struct ut *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *objs, size_t cap,
            size_t *count)
{
	CK_ULONG got = 0;
	CK_RV rv;

	*count = 0;
	rv = t->p11->C_FindObjectsInit(t->session, tmpl, n);
	if (rv != CKR_OK)
		return ut_rv(t, "C_FindObjectsInit", rv);
	rv = t->p11->C_FindObjects(t->session, objs, (CK_ULONG)cap, &got);
	t->p11->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return ut_rv(t, "C_FindObjects", rv);
	*count = got;
	return 0;
}
