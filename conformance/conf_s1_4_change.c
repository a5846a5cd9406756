/* SPEC S1-4 (counters) with CHANGE REFERENCE DATA (ISO 7816-4 §11.5.7, docs/apdu.md): the
 * old PIN in the command counts as an entry. Checked through GET DATA 01 after each step:
 * a wrong old PIN uses one try (63Cx); a new PIN that breaks the policy uses none (6A80);
 * the right old PIN resets the counter to the maximum and sets the new PIN; wrong old PINs
 * down to zero block the PIN (6983) and then the right one is refused too; the SO PIN's
 * counter is separate and behaves the same. */
#include <string.h>

#include "conf.h"
#include "conf_ops.h"

static const uint8_t wrong[] = "wrong12345";
static const uint8_t neu[] = "changed2024";

static uint8_t left_of(conf_ctx *c, uint8_t which, uint8_t *max)
{
	conf_pin_status st;

	conf_pin_status_get(c, which, &st);
	*max = st.max;
	return st.left;
}

static void counters(conf_ctx *c, uint8_t which, const uint8_t *pin, size_t pl,
                     const char *who)
{
	uint8_t max, i;

	UK_CHECK_EQ(left_of(c, which, &max), max);
	UK_CHECK_EQ(conf_change_pin(c, which, wrong, sizeof(wrong) - 1, neu, sizeof(neu) - 1),
	            0x63C0 | (max - 1));
	UK_CHECK_EQ(left_of(c, which, &max), max - 1);
	UK_CHECK_EQ(conf_change_pin(c, which, pin, pl, (const uint8_t *)"onlyletters", 11),
	            0x6A80);
	UK_CHECK_EQ(left_of(c, which, &max), max - 1);
	conf_say(c, "%s: wrong old PIN 63C%X, tries %u/%u; policy-breaking new PIN 6A80, no try "
	         "used", who, max - 1, max - 1, max);
	UK_CHECK_EQ(conf_change_pin(c, which, pin, pl, neu, sizeof(neu) - 1), 0x9000);
	UK_CHECK_EQ(left_of(c, which, &max), max);
	UK_CHECK_EQ(ukt_host_verify(&c->h, which, pin, pl), 0x63C0 | (max - 1));
	UK_CHECK_EQ(ukt_host_verify(&c->h, which, neu, sizeof(neu) - 1), 0x9000);
	conf_say(c, "%s: right old PIN 9000, counter back to %u/%u, new PIN verifies, old not",
	         who, max, max);
	for (i = (uint8_t)(max - 1); i >= 1; i--) {
		UK_CHECK_EQ(conf_change_pin(c, which, wrong, sizeof(wrong) - 1, pin, pl),
		            0x63C0 | i);
		UK_CHECK_EQ(left_of(c, which, &max), i);
	}
	UK_CHECK_EQ(conf_change_pin(c, which, wrong, sizeof(wrong) - 1, pin, pl), 0x6983);
	UK_CHECK_EQ(left_of(c, which, &max), 0);
	UK_CHECK_EQ(conf_change_pin(c, which, neu, sizeof(neu) - 1, pin, pl), 0x6983);
	UK_CHECK_EQ(ukt_host_verify(&c->h, which, neu, sizeof(neu) - 1), 0x6983);
	conf_say(c, "%s: %u wrong old PINs through CHANGE REFERENCE DATA block it (6983); then "
	         "the right one is refused", who, max);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S1-4_change_counters";
	static conf_ctx c;
	uint8_t max;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 0);
	counters(&c, 0x81, c.user_pin, c.user_pin_len, "user PIN");
	UK_CHECK_EQ(left_of(&c, 0x82, &max), max);
	counters(&c, 0x82, c.so_pin, c.so_pin_len, "SO PIN");
	conf_close(&c);
	return uk_test_done(name);
}
