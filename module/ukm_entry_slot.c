/* ukey module: slot and token management entry points (PKCS#11 2.40 §5.5).
 *
 * Slot description: "ukey <20-digit serial> (<reader name>)" once the card has been read,
 * because CK_TOKEN_INFO.serialNumber only holds 16 characters (the last 16 digits). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ukm.h"

static int ukm_slot_has_token(const ukm_slot *s)
{
	return s->listed && s->card_present && !s->not_ukey;
}

static CK_RV ukm_get_slot_list_locked(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n = 0, have = *count;
	ukm_slot *s;
	size_t i;
	CK_RV rv;

	if ((rv = ukm_pcsc_refresh()) != CKR_OK)
		return rv;
	for (i = 0; i < ukm_slot_count(); i++) {
		s = ukm_slot_at(i);
		if (!s->listed || (present && !ukm_slot_has_token(s)))
			continue;
		if (list != NULL && n < have)
			list[n] = s->id;
		n++;
	}
	*count = n;
	return list != NULL && n > have ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

/* §5.5.1 C_GetSlotList: with no pcscd, zero slots at once. */
CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_SLOT_LIST, rv);
	rv = pulCount == NULL ? CKR_ARGUMENTS_BAD :
	                        ukm_get_slot_list_locked(tokenPresent, pSlotList, pulCount);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_SLOT_LIST, rv);
}

/* A listed slot by ID after refreshing card states (no APDUs). */
static CK_RV ukm_slot_lookup(CK_SLOT_ID id, ukm_slot **out)
{
	CK_RV rv;

	if ((rv = ukm_pcsc_refresh()) != CKR_OK)
		return rv;
	*out = ukm_slot_get(id);
	return *out != NULL && (*out)->listed ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static void ukm_slot_info_fill(ukm_slot *s, CK_SLOT_INFO_PTR info)
{
	char desc[65];

	memset(info, 0, sizeof(*info));
	/* The serial needs GET DATA 00: read it if we can (once per card: SELECT + GET DATA,
	 * the only card I/O of C_GetSlotInfo), else the reader. A description that changed once
	 * the card was read would break RFC 7512 slot-description matching. */
	if (ukm_slot_has_token(s) && ukm_card_load_info(s) == CKR_OK && s->cache.have_info)
		snprintf(desc, sizeof(desc), "ukey %s (%s)", s->cache.serial, s->reader);
	else
		snprintf(desc, sizeof(desc), "%s", s->reader);
	ukm_pad(info->slotDescription, sizeof(info->slotDescription), desc);
	ukm_pad(info->manufacturerID, sizeof(info->manufacturerID), "ukey project");
	info->flags = CKF_HW_SLOT | CKF_REMOVABLE_DEVICE;
	if (ukm_slot_has_token(s))
		info->flags |= CKF_TOKEN_PRESENT;
	info->hardwareVersion.major = 1;
	info->firmwareVersion.major = 0;
	info->firmwareVersion.minor = 1;
}

/* §5.5.2 C_GetSlotInfo. */
CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_SLOT_INFO, rv);
	if (pInfo == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = ukm_slot_lookup(slotID, &s)) == CKR_OK)
		ukm_slot_info_fill(s, pInfo);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_SLOT_INFO, rv);
}

/* PIN counters -> token flags (§5.5.3 table of CK_TOKEN_INFO flags). */
static const struct {
	size_t off;
	CK_FLAGS low, final, locked, change;
} ukm_pin_flags[] = {
	{ offsetof(ukm_card_cache, user), CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
	  CKF_USER_PIN_LOCKED, CKF_USER_PIN_TO_BE_CHANGED },
	{ offsetof(ukm_card_cache, so), CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
	  CKF_SO_PIN_LOCKED, CKF_SO_PIN_TO_BE_CHANGED },
};

static CK_FLAGS ukm_token_flags(const ukm_card_cache *c)
{
	/* CKF_RNG: C_GenerateRandom reads the card's generator (GET CHALLENGE). */
	CK_FLAGS f = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
	const ukm_pin_status *p;
	size_t i;

	for (i = 0; i < sizeof(ukm_pin_flags) / sizeof(ukm_pin_flags[0]); i++) {
		p = (const ukm_pin_status *)((const char *)c + ukm_pin_flags[i].off);
		if (p->tries < p->max)
			f |= ukm_pin_flags[i].low;
		if (p->tries == 1)
			f |= ukm_pin_flags[i].final;
		if (p->tries == 0 || (p->flags & 0x01))
			f |= ukm_pin_flags[i].locked;
		if (p->flags & 0x02)
			f |= ukm_pin_flags[i].change;
	}
	/* GET DATA 01 user flags bit 2: not initialised since C_InitToken, until C_InitPIN */
	if (c->user.flags & 0x04)
		f &= ~(CK_FLAGS)CKF_USER_PIN_INITIALIZED;
	return f;
}

static void ukm_token_info_fill(const ukm_slot *s, CK_TOKEN_INFO_PTR t)
{
	const ukm_card_cache *c = &s->cache;
	size_t slen = strlen(c->serial);

	memset(t, 0, sizeof(*t));
	ukm_pad(t->label, sizeof(t->label), c->label);
	ukm_pad(t->manufacturerID, sizeof(t->manufacturerID),
	        c->manufacturer[0] ? c->manufacturer : "ukey");
	ukm_pad(t->model, sizeof(t->model), c->zone == 0x01 ? "ukey yellow" : "ukey green");
	/* 16 characters: the last 16 of the 20-digit serial (full one in the slot info). */
	ukm_pad(t->serialNumber, sizeof(t->serialNumber), slen > 16 ? c->serial + slen - 16 :
	                                                               c->serial);
	t->flags = ukm_token_flags(c);
	if (c->features & 0x02)         /* GET DATA 00 tag 89 bit 1: a pinpad */
		t->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	t->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	t->ulSessionCount = s->session_count;
	t->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	t->ulRwSessionCount = s->rw_count;
	t->ulMaxPinLen = UKM_PIN_MAX;
	t->ulMinPinLen = UKM_PIN_MIN;
	t->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	t->ulFreePublicMemory = c->free_space;
	t->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	t->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	t->hardwareVersion.major = 1;
	t->firmwareVersion.major = c->fw_major;
	t->firmwareVersion.minor = c->fw_minor;
	memset(t->utcTime, ' ', sizeof(t->utcTime));     /* no CKF_CLOCK_ON_TOKEN */
}

/* §5.5.3 C_GetTokenInfo: zero APDUs once the card is cached. */
CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_TOKEN_INFO, rv);
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = ukm_slot_lookup(slotID, &s)) != CKR_OK)
		goto out;
	if (!s->card_present) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	if ((rv = ukm_card_load(s)) == CKR_OK)
		ukm_token_info_fill(s, pInfo);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_TOKEN_INFO, rv);
}

static CK_RV ukm_wait_nonblocking_locked(CK_SLOT_ID_PTR pSlot)
{
	ukm_slot *s;
	size_t i;
	CK_RV rv;

	if ((rv = ukm_pcsc_refresh()) != CKR_OK)
		return rv;
	for (i = 0; i < ukm_slot_count(); i++) {
		s = ukm_slot_at(i);
		if (s->seen_epoch != s->epoch) {
			s->seen_epoch = s->epoch;
			*pSlot = s->id;
			return CKR_OK;
		}
	}
	return CKR_NO_EVENT;
}

/* §5.5.4 C_WaitForSlotEvent: CKF_DONT_BLOCK polls; otherwise the wait runs unlocked on
 * its own PC/SC context in bounded steps (ukm_pcsc_wait), re-checking the slots after each,
 * until an event or C_Finalize (which cancels the wait: CKR_CRYPTOKI_NOT_INITIALIZED). */
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_WAIT_FOR_SLOT_EVENT, rv);
	if (pSlot == NULL || pReserved != NULL) {
		ukm_lib_unlock();
		return ukm_rv(UKM_FN_WAIT_FOR_SLOT_EVENT, CKR_ARGUMENTS_BAD);
	}
	for (;;) {
		rv = ukm_wait_nonblocking_locked(pSlot);
		if (rv != CKR_NO_EVENT || (flags & CKF_DONT_BLOCK))
			break;
		ukm_lib_unlock();
		if ((rv = ukm_pcsc_wait()) != CKR_OK)
			return ukm_rv(UKM_FN_WAIT_FOR_SLOT_EVENT, rv);
		if ((rv = ukm_lib_lock()) != CKR_OK)
			return ukm_rv(UKM_FN_WAIT_FOR_SLOT_EVENT, rv);
	}
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_WAIT_FOR_SLOT_EVENT, rv);
}

static CK_RV ukm_token_slot(CK_SLOT_ID id, ukm_slot **s)
{
	CK_RV rv = ukm_slot_lookup(id, s);

	if (rv == CKR_OK && !(*s)->card_present)
		rv = CKR_TOKEN_NOT_PRESENT;
	return rv;
}

/* §5.5.5 C_GetMechanismList. */
CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                         CK_ULONG_PTR pulCount)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_MECHANISM_LIST, rv);
	if (pulCount == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = ukm_token_slot(slotID, &s)) == CKR_OK)
		rv = ukm_mech_list(pMechanismList, pulCount);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_MECHANISM_LIST, rv);
}

/* §5.5.6 C_GetMechanismInfo. */
CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_MECHANISM_INFO, rv);
	if (pInfo == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = ukm_token_slot(slotID, &s)) == CKR_OK)
		rv = ukm_mech_info(type, pInfo);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_MECHANISM_INFO, rv);
}

/* 3.0 §5.6.4 C_InitToken: the SO re-creates the application (REINITIALISE APPLICATION,
 * docs/apdu.md): every object destroyed, the label set, the SO PIN kept, the user PIN
 * uninitialised (CKF_USER_PIN_INITIALIZED clear) until C_InitPIN. Not while a session of
 * the token is open (CKR_SESSION_EXISTS). No protected-path form: the SO PIN is never typed
 * on the key, so a NULL pPin is CKR_ARGUMENTS_BAD. */
CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                  CK_UTF8CHAR_PTR pLabel)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_INIT_TOKEN, rv);
	if (pLabel == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = ukm_token_slot(slotID, &s)) == CKR_OK)
		rv = s->session_count > 0 ? CKR_SESSION_EXISTS
		     : pPin == NULL ? CKR_ARGUMENTS_BAD : ukm_init_token(s, pPin, ulPinLen, pLabel);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_INIT_TOKEN, rv);
}

/* §5.5.8 C_InitPIN: the SO sets the user PIN (RESET RETRY COUNTER: unblocks it, SPEC S0-B4). */
CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_INIT_PIN, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) == CKR_OK)
		rv = ukm_init_pin(s, ss, pPin, ulPinLen);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_INIT_PIN, rv);
}

/* §5.5.9 C_SetPIN: CHANGE REFERENCE DATA of the PIN of the state (user or SO). */
CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
               CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_SET_PIN, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) == CKR_OK)
		rv = ukm_set_pin(s, ss, pOldPin, ulOldLen, pNewPin, ulNewLen);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_SET_PIN, rv);
}
