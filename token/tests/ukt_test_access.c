/* ukey token tests: test-only accessor of sealed private keys (see ukt_test_access.h). */
#include "ukt_test_access.h"

#include <string.h>

#include "ukt_internal.h"
#include "uk_wipe.h"

static int find_pair(const ukt_state *st, const uint8_t pub[65], unsigned *kr)
{
	const ukt_keypair *k;
	unsigned i;

	for (i = 0; i < UKT_MAX_KEYS; i++) {
		k = &st->cont[i / 2].pair[i % 2];
		if (st->cont[i / 2].present && k->present && k->pub_len == 65 &&
		    memcmp(k->pub, pub, 65) == 0) {
			*kr = i;
			return 1;
		}
	}
	return 0;
}

int ukt_test_private_scalar(const char *dir, const uint8_t *pin, size_t pin_len,
                            const uint8_t pub[65], uint8_t d[32])
{
	uint8_t tk[UKT_TK_LEN], priv[UKT_PRIV_MAX];
	ukt_state st;
	size_t n = 0;
	unsigned kr;
	int r = -1;

	if (ukt_state_load(dir, &st) != 1 ||
	    ukt_keystore_tk_unwrap(&st.pin[UKT_PIN_USER], UKT_PIN_USER, pin, pin_len, tk) != 1)
		goto out;
	r = find_pair(&st, pub, &kr);
	if (r == 1 && (ukt_keystore_key_open(tk, kr, &st.cont[kr / 2].pair[kr % 2], priv, &n) != 0 ||
	               n != 32))
		r = -1;
	if (r == 1)
		memcpy(d, priv, 32);
out:
	uk_wipe(tk, sizeof(tk));
	uk_wipe(priv, sizeof(priv));
	ukt_state_wipe(&st);
	return r;
}
