/* SPEC S1-4: the PIN allows 10 wrong entries, then the key locks; and S2-2: two-level
 * passwords (user and administrator) with a retry count, locking when exceeded. The maximum
 * is read from the key (GET DATA 01, docs/apdu.md) and must be 10; every wrong VERIFY answers
 * 63Cx with the tries left and GET DATA 01 follows; the last one answers 6983 and sets the
 * blocked flag; the right PIN is then refused (6983) in this session, in a new one and after
 * a power cycle; the SO PIN is untouched. Profile 1 has no instruction to set the maximum
 * (S2-2 "settable"): the key reports it, and this test drives its loop from that report. */
#include <string.h>

#include "conf.h"

#define PIN_FLAG_BLOCKED 0x01

static const uint8_t wrong_pin[] = "zq9x8w7v6u";

static void check_status(conf_ctx *c, uint8_t left, uint8_t max, int blocked)
{
	conf_pin_status st;
	uint16_t query;

	conf_pin_status_get(c, 0x81, &st);
	UK_CHECK_EQ(st.left, left);
	UK_CHECK_EQ(st.max, max);
	UK_CHECK_EQ(st.flags & PIN_FLAG_BLOCKED, blocked ? PIN_FLAG_BLOCKED : 0);
	/* plain VERIFY without data reports the same (ISO 7816-4 §11.5.6) */
	query = ukt_host_hex(&c->h, "00200081");
	UK_CHECK_EQ(query, blocked ? 0x6983 : (0x63C0 | left));
}

static void wrong_entries(conf_ctx *c, uint8_t max)
{
	uint8_t i, left;
	uint16_t sw;

	for (i = 1; i <= max; i++) {
		left = (uint8_t)(max - i);
		sw = ukt_host_verify(&c->h, 0x81, wrong_pin, sizeof(wrong_pin) - 1);
		UK_CHECK_EQ(sw, left > 0 ? (0x63C0 | left) : 0x6983);
		check_status(c, left, max, left == 0);
		conf_say(c, "wrong PIN #%u: SW %04X, GET DATA 01 tries left %u/%u%s", i, sw, left,
		         max, left == 0 ? ", blocked" : "");
	}
}

static void check_locked(conf_ctx *c, uint8_t max, const char *when)
{
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, c->user_pin, c->user_pin_len), 0x6983);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, wrong_pin, sizeof(wrong_pin) - 1), 0x6983);
	check_status(c, 0, max, 1);
	/* a blocked PIN authorises nothing: CREATE CONTAINER needs the user PIN */
	UK_CHECK_EQ(ukt_host_create_container(&c->h, "s1-4"), 0x6982);
	conf_say(c, "%s: the right PIN is refused with 6983, counters 0/%u, blocked", when, max);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S1-4_pin_lock";
	static conf_ctx c;
	conf_pin_status st, so;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	UK_CHECK(sizeof(wrong_pin) - 1 != c.user_pin_len ||
	         memcmp(wrong_pin, c.user_pin, c.user_pin_len) != 0);
	conf_start(&c, 0);
	conf_pin_status_get(&c, 0x81, &st);
	conf_pin_status_get(&c, 0x82, &so);
	conf_say(&c, "GET DATA 01: user PIN %u/%u tries, SO PIN %u/%u tries", st.left, st.max,
	         so.left, so.max);
	UK_CHECK_EQ(st.max, 10);                /* S1-4: 10 wrong entries */
	UK_CHECK_EQ(st.left, st.max);
	UK_CHECK(so.max >= 1 && so.left == so.max);
	check_status(&c, st.max, st.max, 0);
	/* a right PIN before the limit resets the counter (ISO 7816-4 §11.5.6) */
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, wrong_pin, sizeof(wrong_pin) - 1),
	            0x63C0 | (st.max - 1));
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	check_status(&c, st.max, st.max, 0);
	conf_say(&c, "one wrong PIN then the right one: counter back to %u", st.max);
	wrong_entries(&c, st.max);
	check_locked(&c, st.max, "same session");
	UK_CHECK_EQ(ukt_host_open_session(&c.h), 0x9000);
	check_locked(&c, st.max, "new secure session");
	conf_reset(&c, 1);
	conf_start(&c, 0);
	check_locked(&c, st.max, "after a power cycle");
	/* the administrator level is separate (S2-2 two-level passwords) */
	conf_pin_status_get(&c, 0x82, &st);
	UK_CHECK_EQ(st.left, so.max);
	UK_CHECK_EQ(st.flags & PIN_FLAG_BLOCKED, 0);
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x82, c.so_pin, c.so_pin_len), 0x9000);
	conf_say(&c, "SO PIN untouched (%u/%u) and still verifies", st.left, st.max);
	conf_close(&c);
	return uk_test_done(name);
}
