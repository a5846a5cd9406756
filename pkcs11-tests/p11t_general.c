/* p11t_general.c — general-purpose functions (§5.4) and slot and token management (§5.5). */
#include <string.h>

#include "p11t.h"
#include "ukey-pkcs11.h"

#define MAX_SLOTS 64
#define MAX_MECHS 256
#define BOGUS_MECH 0x8FFFFFF0UL /* vendor range, defined by nobody here */

/* §5.4.3 C_GetInfo; §3.1 CK_INFO: padded strings, flags zero (reserved), a 2.x or 3.x
 * version. §5.1.2: a NULL output pointer is CKR_ARGUMENTS_BAD. */
int p11t_case_get_info(struct p11t *t)
{
	CK_INFO info;

	memset(&info, 0, sizeof(info));
	if (!p11t_rv(t, t->f->C_GetInfo(&info), CKR_OK, "C_GetInfo"))
		return P11T_FAIL;
	p11t_true(t, info.cryptokiVersion.major == 2 || info.cryptokiVersion.major == 3,
	          "cryptokiVersion %u.%u, want 2.x or 3.x", info.cryptokiVersion.major,
	          info.cryptokiVersion.minor);
	p11t_true(t, info.flags == 0, "CK_INFO.flags 0x%lx, want 0 (reserved)",
	          (unsigned long)info.flags);
	p11t_padded(t, info.manufacturerID, sizeof(info.manufacturerID), "manufacturerID");
	p11t_padded(t, info.libraryDescription, sizeof(info.libraryDescription),
	            "libraryDescription");
	p11t_rv(t, t->f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD, "C_GetInfo(NULL)");
	return p11t_result(t);
}

/* A C_Initialize that must be refused with want. If it succeeds anyway (a reference-counting
 * layer such as p11-kit-proxy does), undo it so the following cases start from a finalised
 * library. */
static void init_refused(struct p11t *t, CK_C_INITIALIZE_ARGS *args, CK_RV want,
                         const char *what)
{
	CK_RV rv = t->f->C_Initialize(args);

	if (!p11t_rv(t, rv, want, what) && rv == CKR_OK)
		t->f->C_Finalize(NULL);
}

/* §5.4.1: a second C_Initialize without C_Finalize is CKR_CRYPTOKI_ALREADY_INITIALIZED. */
int p11t_case_initialize_twice(struct p11t *t)
{
	init_refused(t, NULL, CKR_CRYPTOKI_ALREADY_INITIALIZED, "second C_Initialize");
	/* The library must still be usable. */
	p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, NULL, &(CK_ULONG){ 0 }), CKR_OK,
	        "C_GetSlotList after the refused C_Initialize");
	return p11t_result(t);
}

static CK_RV dummy_create_mutex(CK_VOID_PTR_PTR m)
{
	*m = NULL;
	return CKR_OK;
}

/* §5.4.1 CK_C_INITIALIZE_ARGS: some but not all mutex functions supplied, or pReserved not
 * NULL, is CKR_ARGUMENTS_BAD; CKF_OS_LOCKING_OK with no functions is accepted. */
int p11t_case_initialize_args(struct p11t *t)
{
	CK_C_INITIALIZE_ARGS some = { .CreateMutex = dummy_create_mutex };
	CK_C_INITIALIZE_ARGS reserved = { .flags = CKF_OS_LOCKING_OK, .pReserved = &some };
	CK_C_INITIALIZE_ARGS os = { .flags = CKF_OS_LOCKING_OK };

	init_refused(t, &some, CKR_ARGUMENTS_BAD, "C_Initialize(only CreateMutex supplied)");
	init_refused(t, &reserved, CKR_ARGUMENTS_BAD, "C_Initialize(pReserved not NULL)");
	if (p11t_rv(t, t->f->C_Initialize(&os), CKR_OK, "C_Initialize(CKF_OS_LOCKING_OK)"))
		p11t_rv(t, t->f->C_Finalize(NULL), CKR_OK, "C_Finalize");
	return p11t_result(t);
}

/* §5.4.2: C_Finalize's pReserved must be NULL (CKR_ARGUMENTS_BAD otherwise), and a refused
 * C_Finalize leaves the library initialised. */
int p11t_case_finalize_reserved(struct p11t *t)
{
	CK_INFO info;

	p11t_rv(t, t->f->C_Finalize(&info), CKR_ARGUMENTS_BAD, "C_Finalize(pReserved not NULL)");
	p11t_rv(t, t->f->C_GetInfo(&info), CKR_OK, "C_GetInfo after the refused C_Finalize");
	return p11t_result(t);
}

/* §5.1 (CKR_CRYPTOKI_NOT_INITIALIZED "can be returned by any function other than
 * C_Initialize and C_GetFunctionList"), §5.4.2: after C_Finalize every call is refused until
 * the next C_Initialize, which works again. */
int p11t_case_after_finalize(struct p11t *t)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	CK_INFO info;
	CK_SLOT_INFO si;

	if (!p11t_rv(t, t->f->C_Initialize(NULL), CKR_OK, "C_Initialize") ||
	    !p11t_select_slot(t) ||
	    !p11t_rv(t, t->f->C_Finalize(NULL), CKR_OK, "C_Finalize"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED, "second C_Finalize");
	p11t_rv(t, t->f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED, "C_GetInfo");
	p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED,
	        "C_GetSlotList");
	p11t_rv(t, t->f->C_GetSlotInfo(t->slot, &si), CKR_CRYPTOKI_NOT_INITIALIZED,
	        "C_GetSlotInfo");
	p11t_rv(t, t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
	        CKR_CRYPTOKI_NOT_INITIALIZED, "C_OpenSession");
	p11t_rv(t, t->f->C_CloseAllSessions(t->slot), CKR_CRYPTOKI_NOT_INITIALIZED,
	        "C_CloseAllSessions");
	if (!p11t_rv(t, t->f->C_Initialize(NULL), CKR_OK, "C_Initialize again"))
		return P11T_FAIL;
	if (p11t_select_slot(t) && p11t_open(t, false, &s))
		p11t_state(t, s, CKS_RO_PUBLIC_SESSION, "after re-initialising");
	p11t_rv(t, t->f->C_Finalize(NULL), CKR_OK, "final C_Finalize");
	return p11t_result(t);
}

static bool slot_in(CK_SLOT_ID slot, const CK_SLOT_ID *list, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == slot)
			return true;
	return false;
}

/* §5.5.1 C_GetSlotList with §5.2's conventions: NULL buffer → count; buffer too small →
 * CKR_BUFFER_TOO_SMALL and the count needed; the present-token list is part of the full one. */
int p11t_case_slot_list(struct p11t *t)
{
	CK_SLOT_ID present[MAX_SLOTS], all[MAX_SLOTS];
	CK_ULONG n = 0, n_all = MAX_SLOTS, filled, zero = 0;

	if (!p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK, "C_GetSlotList(NULL)") ||
	    !p11t_true(t, n >= 1 && n <= MAX_SLOTS, "%lu slots with a token", (unsigned long)n))
		return P11T_FAIL;
	filled = n;
	if (p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, present, &filled), CKR_OK,
	            "C_GetSlotList(buffer of the size returned)")) {
		p11t_true(t, filled == n, "filled %lu slots, the query said %lu",
		          (unsigned long)filled, (unsigned long)n);
		p11t_true(t, slot_in(t->slot, present, filled), "the token's slot is not listed");
	}
	p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, present, &zero), CKR_BUFFER_TOO_SMALL,
	        "C_GetSlotList(buffer of 0)");
	p11t_true(t, zero == n, "CKR_BUFFER_TOO_SMALL set the count to %lu, want %lu",
	          (unsigned long)zero, (unsigned long)n);
	if (p11t_rv(t, t->f->C_GetSlotList(CK_FALSE, all, &n_all), CKR_OK,
	            "C_GetSlotList(all slots)"))
		for (CK_ULONG i = 0; i < filled; i++)
			p11t_true(t, slot_in(present[i], all, n_all),
			          "slot %lu has a token but is not in the full list",
			          (unsigned long)present[i]);
	p11t_rv(t, t->f->C_GetSlotList(CK_TRUE, NULL, NULL), CKR_ARGUMENTS_BAD,
	        "C_GetSlotList(pulCount NULL)");
	return p11t_result(t);
}

/* A slot ID no slot has: one past the largest. */
static CK_SLOT_ID bogus_slot(struct p11t *t)
{
	CK_SLOT_ID all[MAX_SLOTS], max = 0;
	CK_ULONG n = MAX_SLOTS;

	if (t->f->C_GetSlotList(CK_FALSE, all, &n) != CKR_OK)
		n = 0;
	for (CK_ULONG i = 0; i < n; i++)
		if (all[i] > max)
			max = all[i];
	return max + 1000;
}

/* §5.5.2 C_GetSlotInfo, §3.2 CK_SLOT_INFO: padded strings, CKF_TOKEN_PRESENT for a slot
 * listed with a token; an unknown slot is CKR_SLOT_ID_INVALID. */
int p11t_case_slot_info(struct p11t *t)
{
	CK_SLOT_INFO si;

	if (!p11t_rv(t, t->f->C_GetSlotInfo(t->slot, &si), CKR_OK, "C_GetSlotInfo"))
		return P11T_FAIL;
	p11t_padded(t, si.slotDescription, sizeof(si.slotDescription), "slotDescription");
	p11t_padded(t, si.manufacturerID, sizeof(si.manufacturerID), "slot manufacturerID");
	p11t_true(t, si.flags & CKF_TOKEN_PRESENT, "CKF_TOKEN_PRESENT not set (flags 0x%lx)",
	          (unsigned long)si.flags);
	p11t_rv(t, t->f->C_GetSlotInfo(bogus_slot(t), &si), CKR_SLOT_ID_INVALID,
	        "C_GetSlotInfo(unknown slot)");
	return p11t_result(t);
}

/* Counts in CK_TOKEN_INFO may be CK_UNAVAILABLE_INFORMATION or CK_EFFECTIVELY_INFINITE (§3.2). */
static bool known(CK_ULONG v)
{
	return v != CK_UNAVAILABLE_INFORMATION && v != CK_EFFECTIVELY_INFINITE;
}

static void check_token_flags(struct p11t *t, const CK_TOKEN_INFO *ti)
{
	p11t_true(t, ti->flags & CKF_TOKEN_INITIALIZED, "CKF_TOKEN_INITIALIZED not set");
	p11t_true(t, ti->flags & CKF_USER_PIN_INITIALIZED, "CKF_USER_PIN_INITIALIZED not set");
	/* The user PIN under test works, so it is neither locked nor at its final try. */
	p11t_true(t, !(ti->flags & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY)),
	          "user PIN flagged locked or final try (flags 0x%lx)", (unsigned long)ti->flags);
	p11t_true(t, !(ti->flags & CKF_SO_PIN_LOCKED) || !(ti->flags & CKF_SO_PIN_FINAL_TRY),
	          "SO PIN flagged both locked and final try");
	if (ti->flags & CKF_CLOCK_ON_TOKEN)
		for (size_t i = 0; i < sizeof(ti->utcTime); i++)
			p11t_true(t, ti->utcTime[i] >= '0' && ti->utcTime[i] <= '9',
			          "utcTime is not 16 digits with CKF_CLOCK_ON_TOKEN");
}

/* §5.5.3 C_GetTokenInfo, §3.2 CK_TOKEN_INFO: padded strings, consistent flags and bounds. */
int p11t_case_token_info(struct p11t *t)
{
	CK_TOKEN_INFO ti;

	if (!p11t_rv(t, t->f->C_GetTokenInfo(t->slot, &ti), CKR_OK, "C_GetTokenInfo"))
		return P11T_FAIL;
	p11t_padded(t, ti.label, sizeof(ti.label), "label");
	p11t_padded(t, ti.manufacturerID, sizeof(ti.manufacturerID), "token manufacturerID");
	p11t_padded(t, ti.model, sizeof(ti.model), "model");
	p11t_padded(t, ti.serialNumber, sizeof(ti.serialNumber), "serialNumber");
	check_token_flags(t, &ti);
	p11t_true(t, ti.ulMinPinLen <= ti.ulMaxPinLen, "ulMinPinLen %lu > ulMaxPinLen %lu",
	          (unsigned long)ti.ulMinPinLen, (unsigned long)ti.ulMaxPinLen);
	p11t_true(t, t->user_pin_len >= ti.ulMinPinLen && t->user_pin_len <= ti.ulMaxPinLen,
	          "the working user PIN's length is outside [ulMinPinLen, ulMaxPinLen]");
	if (known(ti.ulSessionCount) && known(ti.ulMaxSessionCount))
		p11t_true(t, ti.ulSessionCount <= ti.ulMaxSessionCount,
		          "ulSessionCount > ulMaxSessionCount");
	if (known(ti.ulRwSessionCount) && known(ti.ulSessionCount))
		p11t_true(t, ti.ulRwSessionCount <= ti.ulSessionCount,
		          "ulRwSessionCount > ulSessionCount");
	p11t_rv(t, t->f->C_GetTokenInfo(bogus_slot(t), &ti), CKR_SLOT_ID_INVALID,
	        "C_GetTokenInfo(unknown slot)");
	return p11t_result(t);
}

/* §3.2: ulSessionCount / ulRwSessionCount are "the number of sessions that this application
 * currently has open with the token" (or CK_UNAVAILABLE_INFORMATION). */
int p11t_case_token_session_count(struct p11t *t)
{
	CK_SESSION_HANDLE ro, rw;
	CK_TOKEN_INFO ti;

	if (!p11t_open(t, false, &ro) || !p11t_open(t, true, &rw) ||
	    !p11t_rv(t, t->f->C_GetTokenInfo(t->slot, &ti), CKR_OK, "C_GetTokenInfo"))
		return P11T_FAIL;
	if (ti.ulSessionCount != CK_UNAVAILABLE_INFORMATION)
		p11t_true(t, ti.ulSessionCount == 2, "ulSessionCount %lu with 2 sessions open",
		          (unsigned long)ti.ulSessionCount);
	if (ti.ulRwSessionCount != CK_UNAVAILABLE_INFORMATION)
		p11t_true(t, ti.ulRwSessionCount == 1, "ulRwSessionCount %lu with 1 RW session open",
		          (unsigned long)ti.ulRwSessionCount);
	return p11t_result(t);
}

static bool mech_in(CK_MECHANISM_TYPE m, const CK_MECHANISM_TYPE *list, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == m)
			return true;
	return false;
}

/* The mechanisms the generic key of the profile needs. */
static void generic_mechs(const struct p11t *t, CK_MECHANISM_TYPE *keygen,
                          CK_MECHANISM_TYPE *sign)
{
	CK_MECHANISM m;

	p11t_sign_mech(t->prof->generic_key, &m);
	*keygen = CKM_EC_KEY_PAIR_GEN;
	*sign = m.mechanism;
}

/* §5.5.5 C_GetMechanismList with §5.2's length conventions. */
int p11t_case_mechanism_list(struct p11t *t)
{
	CK_MECHANISM_TYPE list[MAX_MECHS], keygen, sign;
	CK_ULONG n = 0, filled, zero = 0;

	if (!p11t_rv(t, t->f->C_GetMechanismList(t->slot, NULL, &n), CKR_OK,
	             "C_GetMechanismList(NULL)") ||
	    !p11t_true(t, n >= 1 && n <= MAX_MECHS, "%lu mechanisms", (unsigned long)n))
		return P11T_FAIL;
	filled = n;
	if (!p11t_rv(t, t->f->C_GetMechanismList(t->slot, list, &filled), CKR_OK,
	             "C_GetMechanismList(buffer)"))
		return P11T_FAIL;
	p11t_true(t, filled == n, "filled %lu mechanisms, the query said %lu",
	          (unsigned long)filled, (unsigned long)n);
	generic_mechs(t, &keygen, &sign);
	p11t_true(t, mech_in(keygen, list, filled), "CKM_EC_KEY_PAIR_GEN not listed");
	p11t_true(t, mech_in(sign, list, filled), "sign mechanism 0x%lx not listed",
	          (unsigned long)sign);
	p11t_rv(t, t->f->C_GetMechanismList(t->slot, list, &zero), CKR_BUFFER_TOO_SMALL,
	        "C_GetMechanismList(buffer of 0)");
	p11t_true(t, zero == n, "CKR_BUFFER_TOO_SMALL set the count to %lu, want %lu",
	          (unsigned long)zero, (unsigned long)n);
	p11t_rv(t, t->f->C_GetMechanismList(bogus_slot(t), NULL, &n), CKR_SLOT_ID_INVALID,
	        "C_GetMechanismList(unknown slot)");
	return p11t_result(t);
}

static void check_mech_info(struct p11t *t, CK_MECHANISM_TYPE m, CK_FLAGS need)
{
	CK_MECHANISM_INFO mi;

	if (!p11t_rv(t, t->f->C_GetMechanismInfo(t->slot, m, &mi), CKR_OK, "C_GetMechanismInfo"))
		return;
	p11t_true(t, mi.ulMinKeySize <= mi.ulMaxKeySize,
	          "mechanism 0x%lx: ulMinKeySize %lu > ulMaxKeySize %lu", (unsigned long)m,
	          (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
	p11t_true(t, (mi.flags & need) == need, "mechanism 0x%lx: flags 0x%lx lack 0x%lx",
	          (unsigned long)m, (unsigned long)mi.flags, (unsigned long)need);
}

/* §5.5.6 C_GetMechanismInfo for every listed mechanism; the key-pair generator says
 * CKF_GENERATE_KEY_PAIR and the sign mechanism CKF_SIGN|CKF_VERIFY (§3.5 CK_MECHANISM_INFO);
 * an unknown mechanism is CKR_MECHANISM_INVALID. */
int p11t_case_mechanism_info(struct p11t *t)
{
	CK_MECHANISM_TYPE list[MAX_MECHS], keygen, sign;
	CK_ULONG n = MAX_MECHS;
	CK_MECHANISM_INFO mi;

	if (!p11t_rv(t, t->f->C_GetMechanismList(t->slot, list, &n), CKR_OK,
	             "C_GetMechanismList"))
		return P11T_FAIL;
	for (CK_ULONG i = 0; i < n; i++)
		check_mech_info(t, list[i], 0);
	generic_mechs(t, &keygen, &sign);
	check_mech_info(t, keygen, CKF_GENERATE_KEY_PAIR);
	check_mech_info(t, sign, CKF_SIGN | CKF_VERIFY);
	p11t_rv(t, t->f->C_GetMechanismInfo(t->slot, BOGUS_MECH, &mi), CKR_MECHANISM_INVALID,
	        "C_GetMechanismInfo(unknown mechanism)");
	return p11t_result(t);
}
