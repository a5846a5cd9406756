/* ukey token: secure sessions (docs/apdu.md "Secure session").
 * Up to UKT_MAX_SESSIONS live sessions, each with its own keys, counter and PIN state;
 * opening one more evicts the least recently used. All are dropped at power off/reset. */
#include "ukt_internal.h"

#include <string.h>

#include "uk_crypto.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

static void session_drop(ukt_session *s)
{
	ukt_keystore_cache_drop(s);
	uk_sm_clear(&s->sm);
	uk_wipe(s, sizeof(*s));
}

void ukt_sessions_clear(ukt_card *card)
{
	size_t i;

	for (i = 0; i < UKT_MAX_SESSIONS; i++)
		session_drop(&card->sess[i]);
}

ukt_session *ukt_session_find(ukt_card *card, uint8_t sid)
{
	size_t i;

	for (i = 0; i < UKT_MAX_SESSIONS; i++)
		if (card->sess[i].used && card->sess[i].sm.sid == sid)
			return &card->sess[i];
	return NULL;
}

/* A free slot, or the least recently used one (evicted). */
static ukt_session *session_slot(ukt_card *card)
{
	ukt_session *best = &card->sess[0];
	size_t i;

	for (i = 0; i < UKT_MAX_SESSIONS; i++) {
		if (!card->sess[i].used)
			return &card->sess[i];
		if (card->sess[i].last_use < best->last_use)
			best = &card->sess[i];
	}
	session_drop(best);
	return best;
}

/* Session ids run 1..255 and skip live ones, so an evicted id is not reused at once. */
static uint8_t session_new_sid(ukt_card *card)
{
	do {
		card->next_sid = (uint8_t)(card->next_sid == 255 ? 1 : card->next_sid + 1);
	} while (ukt_session_find(card, card->next_sid) != NULL);
	return card->next_sid;
}

/* Key agreement (GM/T 0003.4-style ECDH on the SM2 curve, KDF of GM/T 0003.4 §5.4.3).
 * Response template: 7C { 80 01 SID, 82 41 Q_card } (ISO 7816-4 §11.5.5 dynamic
 * authentication template). */
uint16_t ukt_session_open(ukt_card *card, const uint8_t host_pub[65], uk_buf *resp)
{
	uint8_t card_pub[UK_SM2_POINT_LEN], x[32], body[3 + 2 + UK_SM2_POINT_LEN];
	EVP_PKEY *eph = NULL, *peer = NULL;
	ukt_session *s;
	uint16_t sw = UK_SW_WRONG_DATA;
	uint8_t sid;

	peer = uk_sm2_from_public(host_pub);    /* checks the point is on the curve */
	if (peer == NULL)
		goto out;
	sw = UK_SW_UNKNOWN;
	eph = uk_ecdh_sm2_generate();
	if (eph == NULL || uk_ecdh_sm2_public(eph, card_pub) != 0 ||
	    uk_ecdh_sm2_derive(eph, host_pub, x) != 0)
		goto out;
	s = session_slot(card);
	sid = session_new_sid(card);
	if (uk_sm_derive(&s->sm, sid, x, host_pub, card_pub) != 0) {
		session_drop(s);
		goto out;
	}
	s->sm.ctr = 0;
	s->used = 1;
	s->last_use = ++card->tick;
	body[0] = 0x80;
	body[1] = 1;
	body[2] = sid;
	body[3] = 0x82;
	body[4] = UK_SM2_POINT_LEN;
	memcpy(body + 5, card_pub, UK_SM2_POINT_LEN);
	sw = uk_tlv_put(resp, 0x7C, body, sizeof(body)) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
out:
	uk_wipe(x, sizeof(x));
	EVP_PKEY_free(eph);
	EVP_PKEY_free(peer);
	return sw;
}
