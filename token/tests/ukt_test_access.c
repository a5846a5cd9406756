/* ukey token tests: test-only accessor of sealed private keys (see ukt_test_access.h). */
#include "ukt_test_access.h"

#include <string.h>

#include "ukt_internal.h"
#include "uk_wipe.h"

static int find_pair(const ukt_state *st, const uint8_t *pub, size_t pub_len, unsigned *kr)
{
	const ukt_keypair *k;
	unsigned i;

	for (i = 0; i < UKT_MAX_KEYS; i++) {
		k = &st->cont[i / 2].pair[i % 2];
		if (st->cont[i / 2].present && k->present && k->pub_len == pub_len &&
		    memcmp(k->pub, pub, pub_len) == 0) {
			*kr = i;
			return 1;
		}
	}
	return 0;
}

int ukt_test_private_encoding(const char *dir, const uint8_t *pin, size_t pin_len,
                              const uint8_t *pub, size_t pub_len, uint8_t *priv, size_t cap,
                              size_t *n)
{
	uint8_t tk[UKT_TK_LEN], clear[UKT_PRIV_MAX];
	ukt_state st;
	size_t len = 0;
	unsigned kr;
	int r = -1;

	if (ukt_state_load(dir, &st) != 1 ||
	    ukt_keystore_tk_unwrap(&st.pin[UKT_PIN_USER], UKT_PIN_USER, pin, pin_len, tk) != 1)
		goto out;
	r = find_pair(&st, pub, pub_len, &kr);
	if (r == 1 && (ukt_keystore_key_open(tk, kr, &st.cont[kr / 2].pair[kr % 2], clear,
	                                     &len) != 0 || len > cap))
		r = -1;
	if (r == 1) {
		memcpy(priv, clear, len);
		*n = len;
	}
out:
	uk_wipe(tk, sizeof(tk));
	uk_wipe(clear, sizeof(clear));
	ukt_state_wipe(&st);
	return r;
}

int ukt_test_private_scalar(const char *dir, const uint8_t *pin, size_t pin_len,
                            const uint8_t pub[65], uint8_t d[32])
{
	size_t n = 0;
	int r = ukt_test_private_encoding(dir, pin, pin_len, pub, 65, d, 32, &n);

	return r == 1 && n != 32 ? -1 : r;
}

int ukt_test_sealed_key(const char *dir, const uint8_t *pub, size_t pub_len, uint8_t *out,
                        size_t cap, size_t *n)
{
	const ukt_keypair *k;
	ukt_state st;
	unsigned kr;
	int r = -1;

	if (ukt_state_load(dir, &st) != 1)
		goto out;
	r = find_pair(&st, pub, pub_len, &kr);
	if (r != 1)
		goto out;
	k = &st.cont[kr / 2].pair[kr % 2];
	if (k->wrapped_len > cap) {
		r = -1;
		goto out;
	}
	memcpy(out, k->wrapped, k->wrapped_len);
	*n = k->wrapped_len;
out:
	ukt_state_wipe(&st);
	return r;
}
