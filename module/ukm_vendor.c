/* ukey module: the vendor interface "ukey" 1.1 (PKCS#11 3.0 §3.6 CK_INTERFACE, offered by
 * C_GetInterfaceList/C_GetInterface after the standard ones; ukey-pkcs11.h).
 *
 * get_apdu_count (1.0) makes the module's APDU cost visible to tests (docs/pkcs11-profile.md
 * "APDU budget"): every SCardTransmit the module makes is counted per slot and in total, with
 * atomics, so the total can be read from any thread at any time, even before C_Initialize.
 *
 * get_pin_status (1.1) reports the PIN counters and flags that PKCS#11 only shows as token
 * flags: one GET DATA 01 (docs/apdu.md, tags 81/82), through the card cache's own loader so
 * that C_GetTokenInfo's flags follow the same answer. */
#include "ukm.h"

static atomic_ulong ukm_apdus_total;

void ukm_apdu_counted(ukm_slot *s)
{
	atomic_fetch_add_explicit(&s->apdus, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ukm_apdus_total, 1, memory_order_relaxed);
}

/* One slot's count needs the slot table, which only the library lock guards. */
static CK_RV ukm_vendor_slot_count(CK_SLOT_ID slot, CK_ULONG *count)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	s = ukm_slot_get(slot);
	if (s == NULL) {
		rv = CKR_SLOT_ID_INVALID;
		goto out;
	}
	*count = atomic_load_explicit(&s->apdus, memory_order_relaxed);
out:
	ukm_lib_unlock();
	return rv;
}

static CK_RV ukm_vendor_get_apdu_count(CK_SLOT_ID slot, CK_ULONG *count)
{
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (slot == UKEY_ALL_SLOTS) {
		*count = atomic_load_explicit(&ukm_apdus_total, memory_order_relaxed);
		return CKR_OK;
	}
	return ukm_vendor_slot_count(slot, count);
}

/* GET DATA 01 PIN flags (docs/apdu.md): bit 0 blocked, bit 1 must be changed, bit 2 not
 * initialised. A blocked PIN has no try left whatever its counter says, as in the
 * CKF_*_PIN_LOCKED token flag (ukm_entry_slot.c). */
static void ukm_vendor_pin_fill(const ukm_pin_status *p, CK_UKEY_PIN_STATUS *out)
{
	out->tries_left = (p->flags & 0x01) ? 0 : p->tries;
	out->max_tries = p->max;
	out->must_change = (p->flags & 0x02) ? CK_TRUE : CK_FALSE;
	out->initialized = (p->flags & 0x04) ? CK_FALSE : CK_TRUE;
}

/* Slot checks as C_GetTokenInfo (§5.5.3): refresh the readers and card states without
 * APDUs, then one GET DATA 01 whatever the cache holds (the counter may have moved through
 * another process). ukm_card_open answers CKR_TOKEN_NOT_PRESENT for an empty slot and
 * CKR_TOKEN_NOT_RECOGNIZED for a card that refused our SELECT; a key pulled during the
 * command is CKR_DEVICE_REMOVED (its sessions closed, ukm_card_transmit). */
static CK_RV ukm_vendor_pin_status_locked(CK_SLOT_ID slot, CK_USER_TYPE user,
                                          CK_UKEY_PIN_STATUS *status)
{
	ukm_slot *s;
	CK_RV rv;

	if (status == NULL || (user != CKU_USER && user != CKU_SO))
		return CKR_ARGUMENTS_BAD;
	if ((rv = ukm_pcsc_refresh()) != CKR_OK)
		return rv;
	s = ukm_slot_get(slot);
	if (s == NULL || !s->listed)
		return CKR_SLOT_ID_INVALID;
	s->cache.have_pins = 0;
	if ((rv = ukm_card_load_pins(s)) != CKR_OK)
		return rv;
	ukm_vendor_pin_fill(user == CKU_SO ? &s->cache.so : &s->cache.user, status);
	return CKR_OK;
}

static CK_RV ukm_vendor_get_pin_status(CK_SLOT_ID slot, CK_USER_TYPE user,
                                       CK_UKEY_PIN_STATUS *status)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_UKEY_GET_PIN_STATUS, rv);
	rv = ukm_vendor_pin_status_locked(slot, user, status);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_UKEY_GET_PIN_STATUS, rv);
}

/* 1.1: the 1.0 list followed by get_pin_status (a 1.0 caller reads only get_apdu_count). */
CK_UKEY_FUNCTION_LIST ukm_vendor_list = {
	{ UKEY_INTERFACE_VERSION_MAJOR, UKEY_INTERFACE_VERSION_MINOR },
	ukm_vendor_get_apdu_count,
	ukm_vendor_get_pin_status,
};

/* 1.0, for C_GetInterface("ukey", {1, 0}): §5.4.6 makes the returned interface's version
 * match a requested one, so a 1.0 request gets a list that says 1.0 (not listed by
 * C_GetInterfaceList, which names each vendor interface once, at its highest version). */
CK_UKEY_FUNCTION_LIST ukm_vendor_list_1_0 = {
	{ 1, 0 },
	ukm_vendor_get_apdu_count,
	NULL,
};
