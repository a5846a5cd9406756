/* ukey module: the secure session of docs/apdu.md and the secured commands built on it.
 *
 * One secure session per card per process: opened by GENERAL AUTHENTICATE (ISO 7816-4
 * §11.5.5) with an ephemeral key on the SM2 curve, keys by KDF_SM3 (GM/T 0003.4 §5.4.3).
 * The login lives in that session only: when it is lost (card reset, eviction: SW 6988)
 * the PKCS#11 login state drops back to public. */
#include <stdlib.h>
#include <string.h>

#include "uk_apdu.h"
#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukm.h"

static ukm_rapdu ukm_secure_resp;       /* 64 KiB; the library lock serialises its use */

void ukm_secure_drop(ukm_slot *s)
{
	uk_sm_clear(&s->sm);
	s->sm_open = 0;
	s->login = UKM_LOGIN_NONE;
	ukm_skey_card_gone(s);          /* the card's session keys went with its session */
}

/* Response of GENERAL AUTHENTICATE: 7C 46 { 80 01 SID, 82 41 Q_card }. */
static int ukm_secure_parse_ga(const ukm_rapdu *r, uint8_t *sid, uint8_t q[UK_SM2_POINT_LEN])
{
	uk_tlv outer, t80, t82;

	if (uk_tlv_find(r->data, r->len, 0x7C, &outer) != 1 ||
	    uk_tlv_find(outer.value, outer.len, 0x80, &t80) != 1 || t80.len != 1 ||
	    uk_tlv_find(outer.value, outer.len, 0x82, &t82) != 1 || t82.len != UK_SM2_POINT_LEN)
		return -1;
	*sid = t80.value[0];
	memcpy(q, t82.value, UK_SM2_POINT_LEN);
	return 0;
}

CK_RV ukm_secure_open(ukm_slot *s)
{
	uint8_t data[4 + UK_SM2_POINT_LEN] = { 0x7C, 0x43, 0x81, 0x41 };
	uint8_t qh[UK_SM2_POINT_LEN], qc[UK_SM2_POINT_LEN], x[32], sid;
	ukm_rapdu *r = &ukm_secure_resp;
	EVP_PKEY *eph = NULL;
	CK_RV rv;

	ukm_secure_drop(s);
	eph = uk_ecdh_sm2_generate();
	if (eph == NULL || uk_ecdh_sm2_public(eph, qh) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	memcpy(data + 4, qh, sizeof(qh));
	rv = ukm_card_command(s, 0x00, 0x86, 0x00, 0x00, data, sizeof(data), 256, r);
	if (rv != CKR_OK)
		goto out;
	if (r->sw != UK_SW_OK) {
		rv = ukm_sw_to_rv(r->sw);
		goto out;
	}
	if (ukm_secure_parse_ga(r, &sid, qc) != 0 || uk_ecdh_sm2_derive(eph, qc, x) != 0 ||
	    uk_sm_derive(&s->sm, sid, x, qh, qc) != 0) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	s->sm_open = 1;
out:
	uk_wipe(x, sizeof(x));
	ukm_rapdu_wipe(r);
	EVP_PKEY_free(eph);
	return rv;
}

/* Send one secured command (CLA with bit 04): SID || CTR || PAYLOAD || MAC. */
static CK_RV ukm_secure_command(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                                const uint8_t *payload, size_t n, int encrypt, int le,
                                ukm_rapdu *r)
{
	uk_buf data;
	CK_RV rv;

	uk_buf_init(&data, UK_APDU_MAX_NC, 1);
	if (!s->sm_open) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if (uk_sm_wrap(&s->sm, cla, ins, p1, p2, payload, n, encrypt, &data) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	rv = ukm_card_command(s, cla, ins, p1, p2, data.data, data.len, le, r);
	if (rv == CKR_OK && r->sw == UK_SW_SM_INCORRECT)
		ukm_secure_drop(s);     /* evicted or refused: this session is unusable */
out:
	uk_buf_free(&data);
	return rv;
}

/* Map a command's SW, treating "not authenticated" as loss of our login. */
static CK_RV ukm_secure_result(ukm_slot *s, const ukm_rapdu *r)
{
	if (r->sw == UK_SW_SECURITY_STATUS)
		s->login = UKM_LOGIN_NONE;
	return ukm_sw_to_rv(r->sw);
}

/* One PIN command (VERIFY, pinpad VERIFY, CHANGE REFERENCE DATA): opening the session if
 * needed makes it at most two APDUs; a session evicted meanwhile (6988) is reopened once.
 * On CKR_OK the card's status word is in r->sw. */
static CK_RV ukm_secure_pin_command(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1,
                                    uint8_t p2, const uint8_t *payload, size_t n, int encrypt,
                                    ukm_rapdu *r)
{
	int attempt, fresh = 0;
	CK_RV rv = CKR_OK;

	for (attempt = 0; attempt < 2; attempt++) {
		if (!s->sm_open) {
			if ((rv = ukm_secure_open(s)) != CKR_OK)
				return rv;
			fresh = 1;
		}
		rv = ukm_secure_command(s, cla, ins, p1, p2, payload, n, encrypt, 0, r);
		if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
			return rv;
		if (rv == CKR_OK && r->sw != UK_SW_SM_INCORRECT)
			return CKR_OK;
		if (fresh)
			break;
	}
	/* A fresh session refused, or lost twice: not a PIN matter. */
	return CKR_DEVICE_ERROR;
}

/* ISO 7816-4 §11.5.6 VERIFY, secured, PIN encrypted. */
CK_RV ukm_secure_verify(ukm_slot *s, uint8_t p2, const uint8_t *pin, size_t pin_len)
{
	ukm_rapdu *r = &ukm_secure_resp;
	CK_RV rv;

	rv = ukm_secure_pin_command(s, 0x04, 0x20, 0x00, p2, pin, pin_len, 1, r);
	if (rv != CKR_OK)
		goto out;
	rv = ukm_sw_to_rv(r->sw);
	if (rv == CKR_OK)
		s->login = p2 == 0x82 ? UKM_LOGIN_SO : UKM_LOGIN_USER;
	else if (rv == CKR_USER_NOT_LOGGED_IN)
		rv = CKR_DEVICE_ERROR;
out:
	ukm_rapdu_wipe(r);
	return rv;
}

/* docs/apdu.md "VERIFY with the pinpad": answers that differ from VERIFY's table. */
static const struct {
	uint16_t sw;
	CK_RV rv;
} ukm_pinpad_sw[] = {
	{ UK_SW_CONDITIONS, CKR_FUNCTION_CANCELED },    /* 6985: holder cancelled, timed out */
	{ UK_SW_WRONG_LENGTH, CKR_PIN_INCORRECT },      /* 6700: typed PIN not 8-12, no try */
	{ UK_SW_FUNC_UNSUPPORTED, CKR_DEVICE_ERROR },   /* 6A81: tag 89 said pinpad, card not */
};

/* VERIFY with the pinpad (84 20 00 81, empty payload): PKCS#11 protected authentication
 * path. The PIN is typed on the key and never crosses PC/SC. */
CK_RV ukm_secure_verify_pinpad(ukm_slot *s)
{
	ukm_rapdu *r = &ukm_secure_resp;
	size_t i;
	CK_RV rv;

	rv = ukm_secure_pin_command(s, 0x84, 0x20, 0x00, 0x81, NULL, 0, 0, r);
	if (rv != CKR_OK)
		goto out;
	rv = ukm_sw_to_rv(r->sw);
	for (i = 0; i < sizeof(ukm_pinpad_sw) / sizeof(ukm_pinpad_sw[0]); i++)
		if (r->sw == ukm_pinpad_sw[i].sw)
			rv = ukm_pinpad_sw[i].rv;
	if (rv == CKR_OK)
		s->login = UKM_LOGIN_USER;
	else if (rv == CKR_USER_NOT_LOGGED_IN)
		rv = CKR_DEVICE_ERROR;
out:
	ukm_rapdu_wipe(r);
	return rv;
}

/* PIN-setting answers: 6A80 is the card's policy refusal of the new PIN (PKCS#11
 * CKR_PIN_INVALID); the rest as the common table. */
static CK_RV ukm_secure_pin_set_rv(ukm_slot *s, const ukm_rapdu *r)
{
	if (r->sw == UK_SW_WRONG_DATA)
		return CKR_PIN_INVALID;
	return ukm_secure_result(s, r);
}

/* ISO 7816-4 §11.5.7 CHANGE REFERENCE DATA, P1 = 00: E(L_old old L_new new). Needs no
 * earlier VERIFY; the login state of the session does not change. */
CK_RV ukm_secure_change_pin(ukm_slot *s, uint8_t p2, const uint8_t *old, size_t old_len,
                            const uint8_t *pin, size_t pin_len)
{
	ukm_rapdu *r = &ukm_secure_resp;
	uint8_t payload[2 + 2 * UKM_PIN_MAX];
	CK_RV rv;

	if (old_len > UKM_PIN_MAX || pin_len > UKM_PIN_MAX)
		return CKR_GENERAL_ERROR;       /* callers check the lengths first */
	payload[0] = (uint8_t)old_len;
	memcpy(payload + 1, old, old_len);
	payload[1 + old_len] = (uint8_t)pin_len;
	memcpy(payload + 2 + old_len, pin, pin_len);
	rv = ukm_secure_pin_command(s, 0x04, 0x24, 0x00, p2, payload, 2 + old_len + pin_len, 1, r);
	if (rv == CKR_OK)
		rv = ukm_secure_pin_set_rv(s, r);
	uk_wipe(payload, sizeof(payload));
	ukm_rapdu_wipe(r);
	return rv;
}

/* ISO 7816-4 §11.5.10 RESET RETRY COUNTER, P1 = 02 (new reference data only): the SO, logged
 * in in THIS secure session, unblocks the user PIN and sets it (SPEC S0-B4). No session
 * reopening here: a fresh session would not hold the SO's login. */
CK_RV ukm_secure_reset_pin(ukm_slot *s, const uint8_t *pin, size_t pin_len)
{
	ukm_rapdu *r = &ukm_secure_resp;
	CK_RV rv;

	rv = ukm_secure_command(s, 0x04, 0x2C, 0x02, 0x81, pin, pin_len, 1, 0, r);
	if (rv == CKR_OK)
		rv = r->sw == UK_SW_SM_INCORRECT ? CKR_USER_NOT_LOGGED_IN :
		                                   ukm_secure_pin_set_rv(s, r);
	ukm_rapdu_wipe(r);
	return rv;
}

/* REINITIALISE APPLICATION (docs/apdu.md; GM/T 0016 SKF_DeleteApplication +
 * SKF_CreateApplication): 84 EE 00 00 {81 label}, the SO verified in THIS session. */
CK_RV ukm_secure_reinit(ukm_slot *s, const uint8_t *label, size_t len)
{
	ukm_rapdu *r = &ukm_secure_resp;
	uint8_t payload[2 + 32];
	CK_RV rv;

	if (len == 0 || len > 32)
		return CKR_GENERAL_ERROR;       /* the caller trims the 32-byte field */
	payload[0] = 0x81;
	payload[1] = (uint8_t)len;
	memcpy(payload + 2, label, len);
	rv = ukm_secure_command(s, 0x84, 0xEE, 0x00, 0x00, payload, 2 + len, 0, 0, r);
	if (rv == CKR_OK)
		rv = ukm_secure_result(s, r);
	ukm_rapdu_wipe(r);
	return rv;
}

/* VERIFY with P1 = FF (ISO 7816-4 §11.5.6): reset the verified state in our session. */
CK_RV ukm_secure_logout(ukm_slot *s, uint8_t p2)
{
	ukm_rapdu *r = &ukm_secure_resp;
	CK_RV rv = CKR_OK;

	if (s->sm_open && s->connected)
		rv = ukm_secure_command(s, 0x04, 0x20, 0xFF, p2, NULL, 0, 1, 0, r);
	s->login = UKM_LOGIN_NONE;
	if (p2 == 0x81)
		ukm_skey_card_gone(s);  /* the card wipes its session keys with the user login */
	ukm_rapdu_wipe(r);
	return rv == CKR_USER_NOT_LOGGED_IN ? CKR_OK : rv;
}

/* Proprietary CREATE CONTAINER (GM/T 0016 SKF_CreateContainer): 84 E0 00 00 {81 name}. */
CK_RV ukm_secure_create_container(ukm_slot *s, const char *name, size_t len, uint8_t *index)
{
	ukm_rapdu *r = &ukm_secure_resp;
	uint8_t payload[2 + UKM_NAME_MAX];
	uk_tlv t;
	CK_RV rv;

	if (len == 0 || len > UKM_NAME_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	payload[0] = 0x81;
	payload[1] = (uint8_t)len;
	memcpy(payload + 2, name, len);
	rv = ukm_secure_command(s, 0x84, 0xE0, 0x00, 0x00, payload, len + 2, 0, 256, r);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ukm_secure_result(s, r)) != CKR_OK)
		goto out;
	if (uk_tlv_find(r->data, r->len, 0x80, &t) != 1 || t.len != 1 ||
	    t.value[0] >= UKM_MAX_CONTAINERS) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	*index = t.value[0];
out:
	ukm_rapdu_wipe(r);
	return rv;
}

/* ISO 7816-8 §5.1 GENERATE ASYMMETRIC KEY PAIR: 04 46 80 KR {80 01 alg}
 * -> 7F49 { 86 41 <point> }. */
CK_RV ukm_secure_generate(ukm_slot *s, uint8_t kr, uint8_t alg, uint8_t point[UK_SM2_POINT_LEN])
{
	ukm_rapdu *r = &ukm_secure_resp;
	const uint8_t payload[3] = { 0x80, 0x01, alg };
	uk_tlv pk, pt;
	CK_RV rv;

	rv = ukm_secure_command(s, 0x04, 0x46, 0x80, kr, payload, sizeof(payload), 0, 256, r);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ukm_secure_result(s, r)) != CKR_OK)
		goto out;
	if (uk_tlv_find(r->data, r->len, 0x7F49, &pk) != 1 ||
	    uk_tlv_find(pk.value, pk.len, 0x86, &pt) != 1 || pt.len != UK_SM2_POINT_LEN ||
	    pt.value[0] != 0x04) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	memcpy(point, pt.value, UK_SM2_POINT_LEN);
out:
	ukm_rapdu_wipe(r);
	return rv;
}

/* ISO 7816-8 §5.4 PSO: COMPUTE DIGITAL SIGNATURE, one APDU: payload KR || 01 || e. */
CK_RV ukm_secure_sign(ukm_slot *s, uint8_t kr, const uint8_t e[UK_SM3_LEN],
                      uint8_t sig[UK_SM2_SIG_LEN])
{
	ukm_rapdu *r = &ukm_secure_resp;
	uint8_t payload[2 + UK_SM3_LEN];
	CK_RV rv;

	payload[0] = kr;
	payload[1] = 0x01;
	memcpy(payload + 2, e, UK_SM3_LEN);
	rv = ukm_secure_command(s, 0x04, 0x2A, 0x9E, 0x9A, payload, sizeof(payload), 0, 256, r);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ukm_secure_result(s, r)) != CKR_OK)
		goto out;
	if (r->len != UK_SM2_SIG_LEN) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	memcpy(sig, r->data, UK_SM2_SIG_LEN);
out:
	uk_wipe(payload, sizeof(payload));
	ukm_rapdu_wipe(r);
	return rv;
}
