/* ukey token: the PIN manager (GM/T 0016 application PINs; SPEC S0-B3, S1-4, S0-B4).
 *
 * A PIN is never stored: it is right when it opens the token key sealed under it
 * (ukt_keystore.c). The try counter is decremented and made durable BEFORE that check, so
 * cutting the power during a VERIFY cannot grant a free try; it is reset on a match.
 * A session that verified a PIN holds the token key until that PIN (and the other) is
 * logged out in it, or the session ends (power off, reset, eviction, close). */
#include "ukt_internal.h"

#include <string.h>

#include "uk_wipe.h"

/* PIN policy (docs/design.md "PIN policy"): 8-12 characters, letters and digits, both present. */
int ukt_pin_valid_format(const uint8_t *value, size_t len)
{
	int letters = 0, digits = 0;
	size_t i;

	if (value == NULL || len < UKT_PIN_MIN || len > UKT_PIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (value[i] >= '0' && value[i] <= '9')
			digits = 1;
		else if ((value[i] >= 'a' && value[i] <= 'z') || (value[i] >= 'A' && value[i] <= 'Z'))
			letters = 1;
		else
			return 0;
	}
	return letters && digits;
}

/* ISO 7816-4 §11.5.6: 63Cx with x tries left, 6983 when blocked; 6984 (reference data not
 * usable, ISO 7816-4 §5.6) for a user PIN REINITIALISE left uninitialised. */
uint16_t ukt_pin_status_sw(const ukt_pin *pin)
{
	if (pin->flags & UKT_PIN_FLAG_UNINIT)
		return UK_SW_DATA_INVALID;
	if (pin->tries == 0)
		return UK_SW_AUTH_BLOCKED;
	return (uint16_t)(UK_SW_TRIES_LEFT | (pin->tries & 0x0F));
}

/* Check a presented PIN: next becomes a copy of the card state with the counter decremented
 * and committed; only then is the PIN tried (by opening TK). On 9000 tk holds TK and
 * next->pin[which].tries is back at the maximum, not yet committed: the caller adds its
 * change and commits once. Returns 9000, 63Cx, 6983, 6581 or 6F00. */
static uint16_t pin_check(ukt_card *card, ukt_state *next, int which, const uint8_t *value,
                          size_t len, uint8_t tk[UKT_TK_LEN], uint8_t *kek)
{
	ukt_pin *pin = &next->pin[which];
	uint16_t sw;
	int r;

	memcpy(next, &card->st, sizeof(*next));
	if (pin->flags & UKT_PIN_FLAG_UNINIT)
		return UK_SW_DATA_INVALID;      /* nothing to compare with: no try used */
	if (pin->tries == 0)
		return UK_SW_AUTH_BLOCKED;
	pin->tries--;
	sw = ukt_state_commit(card, next);
	if (sw != UK_SW_OK)
		return sw;                      /* not durable: nothing is compared */
	r = ukt_keystore_tk_unwrap_kek(pin, which, value, len, tk, kek);
	if (r < 0)
		return UK_SW_UNKNOWN;
	if (r == 0)
		return ukt_pin_status_sw(pin);
	pin->tries = pin->max;
	return UK_SW_OK;
}

void ukt_pin_logout(ukt_session *s, int which)
{
	s->verified[which] = 0;
	/* session keys were imported under the user PIN: they go with its login */
	if (which == UKT_PIN_USER) {
		uk_wipe(s->skey, sizeof(s->skey));
		s->skey_seq = 0;
		s->aa_grant = 0;
	} else {
		uk_wipe(s->so_kek, sizeof(s->so_kek));
		s->has_so_kek = 0;
	}
	if (!s->verified[UKT_PIN_USER] && !s->verified[UKT_PIN_SO]) {
		ukt_keystore_cache_drop(s);     /* no unsealed key outlives the login */
		uk_wipe(s->tk, sizeof(s->tk));
		s->has_tk = 0;
	}
}

/* VERIFY (docs/apdu.md): ISO 7816-4 §11.5.6. A failed write (6581) leaves the session's
 * state as it was; any other failure logs the PIN out of the session (ISO 7816-4). A user
 * VERIFY also grants one PSO with an always-authenticate key (consumed by it); an SO VERIFY
 * keeps the SO PIN's KEK in the session for REINITIALISE (wiped at SO logout). */
uint16_t ukt_pin_login(ukt_card *card, ukt_session *s, int which, const uint8_t *value,
                       size_t len)
{
	uint8_t tk[UKT_TK_LEN], kek[UKT_TK_LEN];
	ukt_state next;
	uint16_t sw;

	sw = pin_check(card, &next, which, value, len, tk, kek);
	if (sw == UK_SW_OK)
		sw = ukt_state_commit(card, &next);
	if (sw == UK_SW_OK) {
		s->verified[which] = 1;
		memcpy(s->tk, tk, sizeof(tk));
		s->has_tk = 1;
		if (which == UKT_PIN_USER)
			s->aa_grant = 1;
		else {
			memcpy(s->so_kek, kek, sizeof(kek));
			s->has_so_kek = 1;
		}
	} else if (sw != UK_SW_MEMORY_FAILURE && sw != UK_SW_DATA_INVALID) {
		ukt_pin_logout(s, which);
	}
	uk_wipe(tk, sizeof(tk));
	uk_wipe(kek, sizeof(kek));
	ukt_state_wipe(&next);
	return sw;
}

/* VERIFY with the key's own pinpad (docs/apdu.md "VERIFY with the pinpad"): ISO 7816-4
 * §11.5.6 in the proprietary class (CLA 84), P1 00, P2 81, an empty secured payload. The user
 * PIN comes from the pinpad hook and never from the host (nor crosses PC/SC), then takes
 * exactly VERIFY's path (ukt_pin_login: counter decremented and written before the
 * comparison, 63Cx/6983, login in this session only). A key without a pinpad: 6A81 (function
 * not supported, ISO 7816-4 §5.6: the instruction exists, this key lacks the function). A
 * blocked PIN answers 6983 without asking the holder; cancel or timeout at the pinpad 6985
 * (conditions of use not satisfied), with nothing changed and no try used. */
uint16_t ukt_cmd_verify_pinpad(ukt_card *card, ukt_cmd *c)
{
	uint8_t pin[UKT_PINPAD_PIN_CAP];
	size_t len = 0;
	uint16_t sw;

	if (card->pinpad == NULL)
		return UK_SW_FUNC_UNSUPPORTED;
	if (c->len != 0)
		return UK_SW_WRONG_LENGTH;
	if (card->st.pin[UKT_PIN_USER].flags & UKT_PIN_FLAG_UNINIT)
		return UK_SW_DATA_INVALID;
	if (card->st.pin[UKT_PIN_USER].tries == 0)
		return UK_SW_AUTH_BLOCKED;
	sw = UK_SW_CONDITIONS;
	if (card->pinpad(card->pinpad_arg, pin, sizeof(pin), &len) != 0)
		goto out;
	sw = UK_SW_WRONG_LENGTH;        /* as VERIFY: a length no PIN has uses no try */
	if (len < UKT_PIN_MIN || len > UKT_PIN_MAX)
		goto out;
	sw = ukt_pin_login(card, c->sess, UKT_PIN_USER, pin, len);
out:
	uk_wipe(pin, sizeof(pin));
	return sw;
}

/* Payload of CHANGE REFERENCE DATA: L_old old L_new new. 0, or -1 when the lengths do not
 * add up or the old PIN has a length VERIFY would refuse (both 6700). */
static int change_parse(const ukt_cmd *c, const uint8_t **old, size_t *olen,
                        const uint8_t **new, size_t *nlen)
{
	if (c->len < 2 || (size_t)c->data[0] + 2 > c->len)
		return -1;
	*olen = c->data[0];
	*old = c->data + 1;
	*nlen = c->data[1 + *olen];
	*new = c->data + 2 + *olen;
	if (2 + *olen + *nlen != c->len)
		return -1;
	return *olen >= UKT_PIN_MIN && *olen <= UKT_PIN_MAX ? 0 : -1;
}

/* CHANGE REFERENCE DATA, ISO 7816-4 §11.5.7, P1 = 00 (verification data and new reference
 * data), P2 = 81 user / 82 SO. The new PIN is checked against the policy first (6A80, no
 * try used); the old one then goes through the same decrement-persist-compare as VERIFY.
 * On a match TK is sealed under the new PIN (fresh salt), the counter is reset and the
 * must-change flag cleared, in one write. The session's verified state is not changed. */
uint16_t ukt_cmd_change_ref(ukt_card *card, ukt_cmd *c)
{
	int which = c->apdu->p2 == 0x81 ? UKT_PIN_USER : UKT_PIN_SO;
	const uint8_t *old, *new;
	uint8_t tk[UKT_TK_LEN];
	size_t olen, nlen;
	ukt_state next;
	uint16_t sw;

	memset(&next, 0, sizeof(next));
	sw = UK_SW_WRONG_LENGTH;
	if (change_parse(c, &old, &olen, &new, &nlen) != 0)
		goto out;
	sw = UK_SW_WRONG_DATA;
	if (!ukt_pin_valid_format(new, nlen))
		goto out;
	sw = pin_check(card, &next, which, old, olen, tk, NULL);
	if (sw != UK_SW_OK)
		goto out;
	next.pin[which].flags &= (uint8_t)~UKT_PIN_FLAG_MUST_CHANGE;
	sw = ukt_keystore_tk_wrap(&next.pin[which], which, new, nlen, tk) == 0
	     ? ukt_state_commit(card, &next) : UK_SW_UNKNOWN;
out:
	uk_wipe(tk, sizeof(tk));
	ukt_state_wipe(&next);
	return sw;
}

/* RESET RETRY COUNTER, ISO 7816-4 §11.5.10, P1 = 02 (new reference data only), P2 = 81:
 * the SO, verified in THIS session (its TK), sets a new user PIN (S0-B4 remote unlock).
 * The new PIN gets full tries, is unblocked, and is marked must-change like a factory PIN
 * (it was chosen by the SO, not the holder). Every session's user login ends: it was made
 * with the old PIN. */
uint16_t ukt_cmd_reset_retry(ukt_card *card, ukt_cmd *c)
{
	ukt_session *s = c->sess;
	ukt_pin *pin;
	ukt_state next;
	uint16_t sw;
	size_t i;

	if (!s->verified[UKT_PIN_SO] || !s->has_tk || card->st.pin[UKT_PIN_SO].tries == 0)
		return UK_SW_SECURITY_STATUS;
	if (!ukt_pin_valid_format(c->data, c->len))
		return UK_SW_WRONG_DATA;
	memcpy(&next, &card->st, sizeof(next));
	pin = &next.pin[UKT_PIN_USER];
	pin->tries = pin->max;
	pin->flags = (uint8_t)((pin->flags | UKT_PIN_FLAG_MUST_CHANGE) & ~UKT_PIN_FLAG_UNINIT);
	sw = ukt_keystore_tk_wrap(pin, UKT_PIN_USER, c->data, c->len, s->tk) == 0
	     ? ukt_state_commit(card, &next) : UK_SW_UNKNOWN;
	if (sw == UK_SW_OK)
		for (i = 0; i < UKT_MAX_SESSIONS; i++)
			ukt_pin_logout(&card->sess[i], UKT_PIN_USER);
	ukt_state_wipe(&next);
	return sw;
}
