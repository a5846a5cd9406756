/* p11t_util.c — helpers shared by the cases: choosing the token, sessions, login, finding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11t.h"

#define MAX_SLOTS 64

/* A blank-padded field equals want (a C string) once the padding is removed. */
static bool field_is(const CK_UTF8CHAR *field, size_t n, const char *want)
{
	size_t len = n;

	while (len > 0 && field[len - 1] == ' ')
		len--;
	return strlen(want) == len && memcmp(field, want, len) == 0;
}

static bool token_matches(const struct p11t *t, const CK_TOKEN_INFO *ti)
{
	if (!(ti->flags & CKF_TOKEN_INITIALIZED))
		return false;
	if (t->token_label && !field_is(ti->label, sizeof(ti->label), t->token_label))
		return false;
	if (t->token_manuf &&
	    !field_is(ti->manufacturerID, sizeof(ti->manufacturerID), t->token_manuf))
		return false;
	return true;
}

/* The token under test: the first present, initialised token matching $P11T_TOKEN_LABEL and
 * $P11T_TOKEN_MANUFACTURER (through p11-kit-proxy or with SoftHSM2 other slots exist). */
bool p11t_select_slot(struct p11t *t)
{
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_ULONG n = MAX_SLOTS;
	CK_TOKEN_INFO ti;

	if (!p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK, "C_GetSlotList"))
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !token_matches(t, &ti))
			continue;
		t->slot = slots[i];
		return true;
	}
	return p11t_true(t, false, "no token matches (label %s, manufacturer %s) among %lu slots",
	                 t->token_label ? t->token_label : "any",
	                 t->token_manuf ? t->token_manuf : "any", (unsigned long)n);
}

bool p11t_open(struct p11t *t, bool rw, CK_SESSION_HANDLE *s)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);

	*s = CK_INVALID_HANDLE;
	return p11t_rv(t, t->f->C_OpenSession(t->slot, flags, NULL, NULL, s), CKR_OK,
	               rw ? "C_OpenSession(RW)" : "C_OpenSession(RO)");
}

bool p11t_login_user(struct p11t *t, CK_SESSION_HANDLE s)
{
	return p11t_rv(t,
	               t->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)t->user_pin,
	                             (CK_ULONG)t->user_pin_len),
	               CKR_OK, "C_Login(CKU_USER, right PIN)");
}

static const char *state_name(CK_STATE st)
{
	static const char *const names[] = { "CKS_RO_PUBLIC_SESSION", "CKS_RO_USER_FUNCTIONS",
		                             "CKS_RW_PUBLIC_SESSION", "CKS_RW_USER_FUNCTIONS",
		                             "CKS_RW_SO_FUNCTIONS" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "CKS_?";
}

/* §3.3 CK_SESSION_INFO: the session's state, and the slot it belongs to. */
bool p11t_state(struct p11t *t, CK_SESSION_HANDLE s, CK_STATE want, const char *when)
{
	CK_SESSION_INFO si;

	if (!p11t_rv(t, t->f->C_GetSessionInfo(s, &si), CKR_OK, "C_GetSessionInfo"))
		return false;
	if (!p11t_true(t, si.slotID == t->slot, "%s: session slotID %lu, want %lu", when,
	               (unsigned long)si.slotID, (unsigned long)t->slot))
		return false;
	return p11t_true(t, si.state == want, "%s: state %s, want %s", when, state_name(si.state),
	                 state_name(want));
}

/* Find up to max objects of class cls (and label, when not NULL) in one search. */
bool p11t_find(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
               CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, label ? strlen(label) : 0 },
	};
	bool ok;

	*n = 0;
	if (!p11t_rv(t, t->f->C_FindObjectsInit(s, tmpl, label ? 2 : 1), CKR_OK,
	             "C_FindObjectsInit"))
		return false;
	ok = p11t_rv(t, t->f->C_FindObjects(s, out, max, n), CKR_OK, "C_FindObjects");
	return p11t_rv(t, t->f->C_FindObjectsFinal(s), CKR_OK, "C_FindObjectsFinal") && ok;
}
