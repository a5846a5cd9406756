/* SPEC S0-B3 (PIN = 8 to 12 characters, letters and digits) and S0-P1 (PIN not shorter than
 * 6 bytes): the key announces its PIN length range in GET DATA 01 (tag 83: 8, 12), and a
 * VERIFY whose PIN is 7 or 13 characters is refused with 6700 without using a try
 * (docs/apdu.md VERIFY). 8 and 12 characters are accepted as lengths (a wrong PIN of those
 * lengths uses a try), and the right PIN restores the counter. */
#include <string.h>

#include "conf.h"
#include "uk_tlv.h"

static void check_range(conf_ctx *c)
{
	uk_buf b;
	uk_tlv t;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x01, &b), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(b.data, b.len, 0x83, &t), 1);
	UK_CHECK_EQ(t.len, 2);
	UK_CHECK_EQ(t.value[0], 8);
	UK_CHECK_EQ(t.value[1], 12);
	UK_CHECK(t.value[0] >= 6);              /* S0-P1 */
	uk_buf_free(&b);
	conf_say(c, "GET DATA 01 tag 83: PIN length 8..12 (S0-B3), minimum >= 6 (S0-P1)");
}

/* The PIN of the card is itself within the policy: 8-12, letters and digits both present. */
static void check_pin_policy(const uint8_t *pin, size_t n)
{
	size_t i, letters = 0, digits = 0;

	UK_CHECK(n >= 8 && n <= 12);
	for (i = 0; i < n; i++) {
		letters += (pin[i] >= 'a' && pin[i] <= 'z') || (pin[i] >= 'A' && pin[i] <= 'Z');
		digits += pin[i] >= '0' && pin[i] <= '9';
	}
	UK_CHECK(letters > 0 && digits > 0 && letters + digits == n);
}

/* VERIFY with a PIN of len characters: expect sw, and the try counter then at left. */
static void try_len(conf_ctx *c, uint8_t ref, size_t len, uint16_t sw, uint8_t left)
{
	static const char pool[] = "zq9x8w7v6u5t";     /* never a real PIN: checked below */
	conf_pin_status st;
	uint8_t pin[16];

	UK_CHECK(len <= sizeof(pin));
	memset(pin, 'y', sizeof(pin));
	memcpy(pin, pool, len < 12 ? len : 12);
	UK_CHECK(len != c->user_pin_len || memcmp(pin, c->user_pin, len) != 0);
	UK_CHECK(len != c->so_pin_len || memcmp(pin, c->so_pin, len) != 0);
	UK_CHECK_EQ(ukt_host_verify(&c->h, ref, pin, len), sw);
	conf_pin_status_get(c, ref, &st);
	UK_CHECK_EQ(st.left, left);
	conf_say(c, "%s PIN of %zu characters: SW %04X, tries left %u", ref == 0x81 ? "user" : "SO",
	         len, sw, st.left);
}

static void check_pin(conf_ctx *c, uint8_t ref, const uint8_t *pin, size_t n)
{
	conf_pin_status st;
	uint8_t max;

	conf_pin_status_get(c, ref, &st);
	max = st.max;
	UK_CHECK_EQ(st.left, max);
	try_len(c, ref, 7, 0x6700, max);                /* too short: no try used */
	try_len(c, ref, 13, 0x6700, max);               /* too long: no try used */
	try_len(c, ref, 6, 0x6700, max);                /* shorter still (S0-P1) */
	try_len(c, ref, 8, (uint16_t)(0x63C0 | (max - 1)), (uint8_t)(max - 1));
	try_len(c, ref, 12, (uint16_t)(0x63C0 | (max - 2)), (uint8_t)(max - 2));
	UK_CHECK_EQ(ukt_host_verify(&c->h, ref, pin, n), 0x9000);
	conf_pin_status_get(c, ref, &st);
	UK_CHECK_EQ(st.left, max);
	conf_say(c, "%s PIN: the right PIN restores %u tries", ref == 0x81 ? "user" : "SO", max);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-B3_S0-P1_pin_length";
	static conf_ctx c;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	check_pin_policy(c.user_pin, c.user_pin_len);
	check_pin_policy(c.so_pin, c.so_pin_len);
	conf_say(&c, "the card's user and SO PINs are 8-12 letters and digits");
	conf_start(&c, 0);
	check_range(&c);
	check_pin(&c, 0x81, c.user_pin, c.user_pin_len);
	check_pin(&c, 0x82, c.so_pin, c.so_pin_len);
	conf_close(&c);
	return uk_test_done(name);
}
