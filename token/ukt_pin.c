/* ukey token: the PIN manager (GM/T 0016 application PINs; SPEC S0-B3, S1-4).
 *
 * Each application PIN is stored only as PBKDF2-HMAC-SHA256(PIN, salt) with its try counter
 * (10 tries). The counter is decremented and made durable BEFORE the comparison, so cutting
 * the power during a VERIFY cannot grant a free try; it is reset on a match. */
#include "ukt_internal.h"

#include <string.h>

#include <openssl/evp.h>

#include "uk_crypto.h"
#include "uk_wipe.h"

static int pin_hash(const ukt_pin *pin, const uint8_t *value, size_t len,
                    uint8_t out[UKT_PIN_HASH_LEN])
{
	if (len > UKT_PIN_MAX || pin->iter == 0 || pin->iter > 1000000)
		return -1;
	return PKCS5_PBKDF2_HMAC((const char *)value, (int)len, pin->salt, UKT_SALT_LEN,
	                         (int)pin->iter, EVP_sha256(), UKT_PIN_HASH_LEN, out) == 1
	       ? 0 : -1;
}

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

int ukt_pin_set(ukt_pin *pin, const uint8_t *value, size_t len, int must_change)
{
	if (!ukt_pin_valid_format(value, len))
		return -1;
	pin->max = UKT_PIN_TRIES;
	pin->tries = UKT_PIN_TRIES;
	pin->flags = must_change ? UKT_PIN_FLAG_MUST_CHANGE : 0;
	pin->iter = UKT_PBKDF2_ITER;
	if (uk_random(pin->salt, UKT_SALT_LEN) != 0)
		return -1;
	return pin_hash(pin, value, len, pin->hash);
}

/* ISO 7816-4 §11.5.6: 63Cx with x tries left, 6983 when blocked. */
uint16_t ukt_pin_status_sw(const ukt_pin *pin)
{
	if (pin->tries == 0)
		return UK_SW_AUTH_BLOCKED;
	return (uint16_t)(UK_SW_TRIES_LEFT | (pin->tries & 0x0F));
}

/* Compare a presented PIN (docs/apdu.md VERIFY). Returns 9000, 63Cx, 6983 or 6581. */
uint16_t ukt_pin_verify(ukt_card *card, int which, const uint8_t *value, size_t len)
{
	uint8_t digest[UKT_PIN_HASH_LEN];
	ukt_state next;
	ukt_pin *pin;
	uint16_t sw;
	int match;

	memcpy(&next, &card->st, sizeof(next));
	pin = &next.pin[which];
	if (pin->tries == 0) {
		sw = UK_SW_AUTH_BLOCKED;
		goto out;
	}
	/* Decrement and make it durable before comparing: nothing is compared otherwise. */
	pin->tries--;
	sw = ukt_state_commit(card, &next);
	if (sw != UK_SW_OK)
		goto out;
	match = pin_hash(pin, value, len, digest) == 0 &&
	        uk_ct_equal(digest, pin->hash, UKT_PIN_HASH_LEN);
	if (!match) {
		sw = ukt_pin_status_sw(pin);
		goto out;
	}
	pin->tries = pin->max;
	sw = ukt_state_commit(card, &next);
out:
	uk_wipe(digest, sizeof(digest));
	ukt_state_wipe(&next);
	return sw;
}
