/* ukey module: the vendor interface "ukey" 1.0 (PKCS#11 3.0 §3.6 CK_INTERFACE, offered by
 * C_GetInterfaceList/C_GetInterface after the standard ones; ukey-pkcs11.h).
 *
 * get_apdu_count makes the module's APDU cost visible to tests (docs/pkcs11-profile.md
 * "APDU budget"): every SCardTransmit the module makes is counted per slot and in total, with
 * atomics, so the total can be read from any thread at any time, even before C_Initialize. */
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

CK_UKEY_FUNCTION_LIST ukm_vendor_list = {
	{ UKEY_INTERFACE_VERSION_MAJOR, UKEY_INTERFACE_VERSION_MINOR },
	ukm_vendor_get_apdu_count,
};
