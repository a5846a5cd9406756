/* ukey token: REINITIALISE APPLICATION (docs/apdu.md), proprietary: GM/T 0016
 * SKF_DeleteApplication followed by SKF_CreateApplication with the same SO PIN, which is
 * what PKCS#11 C_InitToken asks of a token (PKCS#11 3.0 §5.6.4).
 *
 * The new application is one state, written once: every container and key pair gone, the
 * new label, the SO PIN record and its counter kept, the user PIN uninitialised (no token key
 * sealed under it) until RESET RETRY COUNTER sets it. The token key is new: it is sealed under
 * the SO PIN's KEK, which the session kept at the SO's VERIFY, so nothing sealed before (an
 * old copy of the state opened with an old user PIN) opens what is sealed after. Files are
 * not in the state: the state carries a sweep mark, the files are unlinked after the write,
 * and any left by a crash are removed at the next open (ukt_files.c). */
#include "ukt_internal.h"
#include "ukt_files.h"

#include <string.h>

#include "uk_crypto.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

/* Payload: exactly 81 <label, 1-32 bytes>. */
static int label_parse(const ukt_cmd *c, uk_tlv *label)
{
	const uint8_t *p = c->data;

	return uk_tlv_next(&p, c->data + c->len, label) == 1 && label->tag == 0x81 &&
	       p == c->data + c->len && label->len >= 1 && label->len <= UKT_LABEL_MAX ? 0 : -1;
}

/* The new application's state: identity and SO PIN kept, the rest empty; tk sealed under
 * the SO PIN's KEK. 0 or -1. */
static int reinit_state(const ukt_card *card, const ukt_session *s, const uk_tlv *label,
                        const uint8_t tk[UKT_TK_LEN], ukt_state *next)
{
	const ukt_pin *user = &card->st.pin[UKT_PIN_USER];

	memset(next, 0, sizeof(*next));
	memcpy(next->serial, card->st.serial, sizeof(next->serial));
	next->zone = card->st.zone;
	next->label_len = (uint8_t)label->len;
	memcpy(next->label, label->value, label->len);
	next->pin[UKT_PIN_SO] = card->st.pin[UKT_PIN_SO];
	next->pin[UKT_PIN_USER].max = user->max;
	next->pin[UKT_PIN_USER].tries = user->max;
	next->pin[UKT_PIN_USER].iter = UKT_PBKDF2_ITER;  /* salt and seal zero: nothing opens */
	next->pin[UKT_PIN_USER].flags = UKT_PIN_FLAG_UNINIT;
	next->sweep_files = 1;
	return ukt_keystore_tk_seal_kek(&next->pin[UKT_PIN_SO], UKT_PIN_SO, s->so_kek, tk);
}

/* After the write: every login made under the old token key ends (the user's everywhere,
 * the SO's in other sessions); this session keeps its SO login with the new token key. */
static void reinit_sessions(ukt_card *card, ukt_session *s, const uint8_t tk[UKT_TK_LEN])
{
	size_t i;

	for (i = 0; i < UKT_MAX_SESSIONS; i++) {
		ukt_pin_logout(&card->sess[i], UKT_PIN_USER);
		if (&card->sess[i] != s)
			ukt_pin_logout(&card->sess[i], UKT_PIN_SO);
	}
	memcpy(s->tk, tk, UKT_TK_LEN);
	s->has_tk = 1;
}

/* REINITIALISE APPLICATION — 84 EE 00 00 Lc <secured: 81 <label>>. Checks, in this order:
 * SO PIN verified in THIS session and not blocked (6982); payload (6A80); the state write
 * (6581, nothing changed). */
uint16_t ukt_cmd_reinit(ukt_card *card, ukt_cmd *c)
{
	ukt_session *s = c->sess;
	uint8_t tk[UKT_TK_LEN];
	ukt_state next;
	uk_tlv label;
	uint16_t sw = UK_SW_SECURITY_STATUS;

	memset(&next, 0, sizeof(next));
	if (!s->verified[UKT_PIN_SO] || !s->has_so_kek || card->st.pin[UKT_PIN_SO].tries == 0)
		goto out;
	sw = UK_SW_WRONG_DATA;
	if (label_parse(c, &label) != 0)
		goto out;
	sw = UK_SW_UNKNOWN;
	if (uk_random(tk, sizeof(tk)) != 0 || reinit_state(card, s, &label, tk, &next) != 0)
		goto out;
	sw = ukt_state_commit(card, &next);
	if (sw != UK_SW_OK)
		goto out;
	reinit_sessions(card, s, tk);
	ukt_files_drop_all(card);
out:
	uk_wipe(tk, sizeof(tk));
	ukt_state_wipe(&next);
	return sw;
}
