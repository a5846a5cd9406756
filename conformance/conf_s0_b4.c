/* SPEC S0-B4 (and the S0 support FAQ): a locked user PIN is unlocked by the administrator.
 * RESET RETRY COUNTER 04 2C 02 81 (ISO 7816-4 §11.5.10, docs/apdu.md) with the SO PIN
 * verified in the same session sets a new user PIN, puts its counter at the maximum, clears
 * the blocked flag and sets the must-change flag (bit 1 of GET DATA 01, like a factory PIN).
 * Checked: the holder, even logged in, cannot do it (6982); the SO logged in another session
 * of the card does not count (6982); after the unlock the new PIN verifies, the old one does
 * not, and a CHANGE REFERENCE DATA by the holder clears the must-change flag. */
#include <string.h>

#include "conf.h"
#include "conf_ops.h"

#define FLAG_BLOCKED 0x01
#define FLAG_CHANGE 0x02

static const uint8_t own_pin[] = "holder2024";     /* the holder's own PIN (flag clear) */
static const uint8_t so_set[] = "unlock2024";      /* set by the SO */
static const uint8_t next_pin[] = "holder2025";
static const uint8_t wrong[] = "wrong12345";

static void block_user(conf_ctx *c)
{
	conf_pin_status st;
	unsigned i;

	conf_pin_status_get(c, 0x81, &st);
	for (i = st.left; i > 1; i--)
		UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, wrong, sizeof(wrong) - 1),
		            0x63C0 | (i - 1));
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, wrong, sizeof(wrong) - 1), 0x6983);
	conf_pin_status_get(c, 0x81, &st);
	UK_CHECK(st.left == 0 && (st.flags & FLAG_BLOCKED));
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, own_pin, sizeof(own_pin) - 1), 0x6983);
	conf_say(c, "user PIN blocked after %u wrong entries (the right PIN answers 6983)", st.max);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-B4_so_unlock";
	static conf_ctx c;
	conf_pin_status st;
	ukt_host so;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 1);
	/* the holder replaces the factory PIN: must-change clears */
	UK_CHECK_EQ(conf_change_pin(&c, 0x81, c.user_pin, c.user_pin_len, own_pin,
	                            sizeof(own_pin) - 1), 0x9000);
	conf_pin_status_get(&c, 0x81, &st);
	UK_CHECK_EQ(st.flags & (FLAG_CHANGE | FLAG_BLOCKED), 0);
	/* a holder cannot reset the counter: user PIN verified, SO PIN not */
	UK_CHECK_EQ(conf_reset_retry(&c, NULL, so_set, sizeof(so_set) - 1), 0x6982);
	conf_say(&c, "holder logged in: RESET RETRY COUNTER refused (6982)");
	block_user(&c);
	UK_CHECK_EQ(conf_reset_retry(&c, NULL, so_set, sizeof(so_set) - 1), 0x6982);
	/* the SO logged in another client's session does not authorise this one */
	conf_host_init(&c, &so);
	UK_CHECK_EQ(ukt_host_open_session(&so), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&so, 0x82, c.so_pin, c.so_pin_len), 0x9000);
	UK_CHECK_EQ(conf_reset_retry(&c, NULL, so_set, sizeof(so_set) - 1), 0x6982);
	conf_say(&c, "SO logged in another session only: refused (6982)");
	/* a PIN that breaks the policy: refused, still blocked */
	UK_CHECK_EQ(conf_reset_retry(&c, &so, (const uint8_t *)"12345678", 8), 0x6A80);
	conf_pin_status_get(&c, 0x81, &st);
	UK_CHECK(st.flags & FLAG_BLOCKED);
	UK_CHECK_EQ(conf_reset_retry(&c, &so, so_set, sizeof(so_set) - 1), 0x9000);
	conf_pin_status_get(&c, 0x81, &st);
	UK_CHECK_EQ(st.left, st.max);
	UK_CHECK_EQ(st.flags & FLAG_BLOCKED, 0);
	UK_CHECK_EQ(st.flags & FLAG_CHANGE, FLAG_CHANGE);
	conf_say(&c, "SO unlock (its own session): tries %u/%u, unblocked, flagged must-change",
	         st.left, st.max);
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, own_pin, sizeof(own_pin) - 1),
	            0x63C0 | (st.max - 1));
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, so_set, sizeof(so_set) - 1), 0x9000);
	conf_reset(&c, 1);
	conf_start(&c, 0);
	conf_pin_status_get(&c, 0x81, &st);
	UK_CHECK_EQ(st.flags & FLAG_CHANGE, FLAG_CHANGE);
	UK_CHECK_EQ(conf_change_pin(&c, 0x81, so_set, sizeof(so_set) - 1, next_pin,
	                            sizeof(next_pin) - 1), 0x9000);
	conf_pin_status_get(&c, 0x81, &st);
	UK_CHECK_EQ(st.flags & FLAG_CHANGE, 0);
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, next_pin, sizeof(next_pin) - 1), 0x9000);
	conf_say(&c, "old PIN refused, SO-set PIN verifies; flag survives a power cycle and "
	         "clears when the holder changes the PIN");
	conf_close(&c);
	return uk_test_done(name);
}
