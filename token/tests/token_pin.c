/* token_pin: the PIN manager (docs/apdu.md VERIFY, CHANGE REFERENCE DATA, RESET RETRY
 * COUNTER): try counter, blocking, persistence of the counter before the comparison,
 * rollback on a failed write, provisioning, PIN change and policy, SO unblock, settable
 * maximum of tries. */
#include <string.h>

#include "uk_tlv.h"
#include "token_util.h"

static ukt_host h;
static int expect_max = 10;     /* maximum tries the card under test was provisioned with */

/* tries left of the user (81) or SO (82) PIN per GET DATA 01/01 */
static int pin_tries(unsigned tag, int *flags)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010100"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, tag, &t), 1);
	UK_CHECK_EQ(t.len, 3);
	UK_CHECK_EQ(t.value[1], expect_max);
	if (flags != NULL)
		*flags = t.value[2];
	return t.value[0];
}

static ukt_card *open_selected(const char *dir)
{
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	return card;
}

static void test_block_and_reopen(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_selected(dir);
	int i, flags;

	for (i = 9; i >= 1; i--)
		UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x63C0 | i);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x6983);  /* tenth */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6983);   /* right, but blocked */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x6983);
	UK_CHECK_EQ(pin_tries(0x81, &flags), 0);
	UK_CHECK_EQ(flags, 0x03);                                        /* blocked, must change */
	UK_CHECK_EQ(pin_tries(0x82, NULL), 10);                          /* SO PIN untouched */
	ukt_card_close(card);

	card = open_selected(dir);                                       /* the lock is durable */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x6983);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6983);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	ukt_card_close(card);
	tu_rmdir(dir);
	free((void *)dir);
}

static void test_reset_on_success(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_selected(dir);

	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user12345", 9), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1235", 8), 0x63C8);
	ukt_card_close(card);
	card = open_selected(dir);                                       /* counter persisted */
	UK_CHECK_EQ(pin_tries(0x81, NULL), 8);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "User1234", 8), 0x63C7);   /* case matters */
	/* a wrong PIN clears an earlier verification in the session */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(pin_tries(0x81, NULL), 10);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1233", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "user1234", 8), 0x63C9);   /* PINs are separate */
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static int fail_always(void *arg)
{
	(void)arg;
	return 1;
}

/* fail the n-th write from now (counter in arg) */
static int fail_nth(void *arg)
{
	int *n = arg;

	return --*n == 0;
}

static void test_write_failure(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_selected(dir);
	unsigned char *snap;
	size_t snaplen;
	int nth;

	snap = tu_state_bytes(dir, &snaplen);
	ukt_card_set_write_hook(card, fail_always, NULL);
	/* the counter cannot be made durable: the correct PIN is not even compared */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6581);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x6581);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x63CA);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x6982);
	UK_CHECK_EQ(pin_tries(0x81, NULL), 10);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);

	/* the decrement is written, the reset after the match is not: 6581, tries stay at 9 */
	nth = 2;
	ukt_card_set_write_hook(card, fail_nth, &nth);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6581);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x63C9);
	UK_CHECK_EQ(pin_tries(0x81, NULL), 9);

	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(pin_tries(0x81, NULL), 10);
	free(snap);

	/* a failed container creation is rolled back in memory as well */
	snap = tu_state_bytes(dir, &snaplen);
	ukt_card_set_write_hook(card, fail_always, NULL);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x6581);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);
	UK_CHECK_EQ(h.rlen, 0);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, NULL), 0x9000);
	free(snap);
	snap = tu_state_bytes(dir, &snaplen);
	ukt_card_set_write_hook(card, fail_always, NULL);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, NULL), 0x6581);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static void test_damaged_state(void)
{
	char *dir = tu_tmpdir(), path[1024];
	ukt_card *card = open_selected(dir);
	unsigned char *snap;
	size_t snaplen;
	FILE *f;

	ukt_card_close(card);
	snap = tu_state_bytes(dir, &snaplen);
	snap[snaplen / 2] ^= 1;
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "wb");
	UK_CHECK(f != NULL);
	UK_CHECK_EQ(fwrite(snap, 1, snaplen, f), snaplen);
	fclose(f);
	UK_CHECK(ukt_card_open(dir, NULL) == NULL);                      /* refused ... */
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);                    /* ... and kept */
	free(snap);
	tu_rmdir(dir);
	free(dir);
}

static void test_provisioning(void)
{
	static const uint8_t yellow = 1;
	char *dir = tu_tmpdir(), sub[1024];
	ukt_provision p;
	ukt_card *card;
	uk_tlv t;

	memset(&p, 0, sizeof(p));
	p.serial = "12345678901234567890";
	p.label = "test key";
	p.zone = 1;
	p.user_pin = (const uint8_t *)"abc123456789";
	p.user_pin_len = 12;
	snprintf(sub, sizeof(sub), "%s/a/key-0", dir);                   /* parents created */
	card = ukt_card_open(sub, &p);
	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x80, &t), 1);
	UK_CHECK_MEM(t.value, "12345678901234567890", 20);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x81, &t), 1);
	UK_CHECK_EQ(t.len, 8);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x82, &t), 1);
	UK_CHECK_MEM(t.value, &yellow, 1);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "abc123456789", 12), 0x9000);
	ukt_card_close(card);

	/* the defaults only apply to a new card */
	p.serial = "99999999999999999999";
	card = ukt_card_open(sub, &p);
	UK_CHECK(card != NULL);
	UK_CHECK(strcmp(ukt_card_serial(card), "12345678901234567890") == 0);
	ukt_card_close(card);

	/* index-derived serials differ; bad settings are refused */
	memset(&p, 0, sizeof(p));
	p.index = 3;
	snprintf(sub, sizeof(sub), "%s/b", dir);
	card = ukt_card_open(sub, &p);
	UK_CHECK(card != NULL);
	UK_CHECK(strcmp(ukt_card_serial(card), "88562234001325130172") == 0);
	ukt_card_close(card);
	p.serial = "1234";
	snprintf(sub, sizeof(sub), "%s/c", dir);
	UK_CHECK(ukt_card_open(sub, &p) == NULL);
	p.serial = NULL;
	p.user_pin = (const uint8_t *)"12345678";                        /* no letter */
	p.user_pin_len = 8;
	UK_CHECK(ukt_card_open(sub, &p) == NULL);
	p.user_pin = NULL;
	p.zone = 3;
	UK_CHECK(ukt_card_open(sub, &p) == NULL);
	tu_rmdir(dir);
	free(dir);
}

static uint16_t change_pin(ukt_host *hh, uint8_t p2, const char *old, const char *new)
{
	uint8_t buf[64];
	size_t ol = strlen(old), nl = strlen(new);

	buf[0] = (uint8_t)ol;
	memcpy(buf + 1, old, ol);
	buf[1 + ol] = (uint8_t)nl;
	memcpy(buf + 2 + ol, new, nl);
	return ukt_host_secured(hh, 0x00, 0x24, 0x00, p2, buf, 2 + ol + nl, 1, UKT_HOST_NO_LE);
}

static uint16_t reset_retry(ukt_host *hh, uint8_t p1, uint8_t p2, const char *new)
{
	return ukt_host_secured(hh, 0x00, 0x2C, p1, p2, (const uint8_t *)new, strlen(new), 1,
	                        UKT_HOST_NO_LE);
}

/* the new PIN breaks the policy: 6A80, no try used, the state file untouched */
static void check_policy_refused(const char *dir, const char *bad)
{
	unsigned char *snap;
	size_t snaplen;

	snap = tu_state_bytes(dir, &snaplen);
	UK_CHECK_EQ(change_pin(&h, 0x81, "user1234", bad), 0x6A80);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);
}

static void test_change(void)
{
	static const uint8_t raw_short[] = { 5, 'a', 'b', '1', '2', '3', 8, 'N', 'e', 'w', 'p',
	                                     'i', 'n', '9', '9' };
	static const uint8_t raw_bad_len[] = { 8, 'u', 's', 'e', 'r', '1', '2', '3', '4', 9,
	                                       'N', 'e', 'w', 'p', 'i', 'n', '9', '9' };
	char *dir = tu_tmpdir();
	ukt_card *card = open_selected(dir);
	int flags;

	/* policy: length 8-12, letters and digits both present, nothing else */
	check_policy_refused(dir, "abcdefgh");
	check_policy_refused(dir, "12345678");
	check_policy_refused(dir, "abc1234");
	check_policy_refused(dir, "abc123456789x");
	check_policy_refused(dir, "abc 12345");
	check_policy_refused(dir, "");
	UK_CHECK_EQ(pin_tries(0x81, NULL), 10);
	/* malformed: old PIN of a length VERIFY refuses, lengths that do not add up: 6700 */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x24, 0x00, 0x81, raw_short, sizeof(raw_short), 1,
	                             UKT_HOST_NO_LE), 0x6700);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x24, 0x00, 0x81, raw_bad_len,
	                             sizeof(raw_bad_len), 1, UKT_HOST_NO_LE), 0x6700);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x24, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x6700);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x24, 0x00, 0x81, raw_short, sizeof(raw_short),
	                           UKT_HOST_NO_LE), 0x6987);               /* never in clear */
	UK_CHECK_EQ(change_pin(&h, 0x83, "user1234", "Newpin99"), 0x6A88);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x24, 0x01, 0x81, raw_short, sizeof(raw_short), 1,
	                             UKT_HOST_NO_LE), 0x6A86);
	UK_CHECK_EQ(pin_tries(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x02);                                        /* factory PIN */

	/* wrong old PIN: a try is used, nothing changes */
	UK_CHECK_EQ(change_pin(&h, 0x81, "user1235", "Newpin99"), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Newpin99", 8), 0x63C8);
	/* right old PIN: changed, counter reset, must-change cleared */
	UK_CHECK_EQ(change_pin(&h, 0x81, "user1234", "Newpin99"), 0x9000);
	UK_CHECK_EQ(pin_tries(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x00);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Newpin99", 8), 0x9000);
	/* the SO PIN likewise, and independently */
	UK_CHECK_EQ(change_pin(&h, 0x82, "admin1234", "Officer2024"), 0x9000);
	UK_CHECK_EQ(pin_tries(0x82, &flags), 10);
	UK_CHECK_EQ(flags, 0x00);
	ukt_card_close(card);

	card = open_selected(dir);                                       /* durable */
	UK_CHECK_EQ(pin_tries(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x00);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "Officer2024", 11), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Newpin99", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	/* a failed write changes nothing */
	ukt_card_set_write_hook(card, fail_always, NULL);
	UK_CHECK_EQ(change_pin(&h, 0x81, "Newpin99", "Other1234"), 0x6581);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Newpin99", 8), 0x9000);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static void block_user(void)
{
	int i;

	for (i = expect_max - 1; i >= 1; i--)
		UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x63C0 | i);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x6983);
}

static void test_reset(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_selected(dir);
	static ukt_host so;
	uint8_t e[32], sig[64];
	int flags;

	memset(e, 7, sizeof(e));
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, NULL), 0x9000);
	block_user();
	UK_CHECK_EQ(change_pin(&h, 0x81, "user1234", "Newpin99"), 0x6983);   /* blocked */

	/* needs the SO PIN verified in this very session */
	UK_CHECK_EQ(reset_retry(&h, 0x02, 0x81, "Reset2024"), 0x6982);
	ukt_host_init_card(&so, card);
	UK_CHECK_EQ(ukt_host_open_session(&so), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&so, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(reset_retry(&h, 0x02, 0x81, "Reset2024"), 0x6982);   /* other session's SO */
	UK_CHECK_EQ(ukt_host_plain(&so, 0x00, 0x2C, 0x02, 0x81, (const uint8_t *)"Reset2024", 9,
	                           UKT_HOST_NO_LE), 0x6987);
	UK_CHECK_EQ(reset_retry(&so, 0x00, 0x81, "Reset2024"), 0x6A86);
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x82, "Reset2024"), 0x6A88);
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x81, "resetreset"), 0x6A80);  /* policy */
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x81, "Reset20241234"), 0x6A80);
	UK_CHECK_EQ(pin_tries(0x81, NULL), 0);

	/* S0-B4 remote unlock: new PIN, full tries, unblocked, to be changed by the holder */
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x81, "Reset2024"), 0x9000);
	UK_CHECK_EQ(pin_tries(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x02);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Reset2024", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);               /* keys still open */
	UK_CHECK_EQ(reset_retry(&h, 0x02, 0x81, "Mine2024"), 0x6982);    /* user is not SO */
	UK_CHECK_EQ(change_pin(&h, 0x81, "Reset2024", "Holder2024"), 0x9000);
	UK_CHECK_EQ(pin_tries(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x00);

	/* a reset ends the user logins made with the old PIN */
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x81, "Again2024"), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);
	/* the SO logged out: no more resets */
	UK_CHECK_EQ(ukt_host_secured(&so, 0x00, 0x20, 0xFF, 0x82, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(reset_retry(&so, 0x02, 0x81, "Again2025"), 0x6982);
	ukt_card_close(card);

	card = open_selected(dir);                                       /* durable */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "Again2024", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static ukt_card *open_with_max(const char *dir, unsigned max)
{
	ukt_provision p;
	ukt_card *card;

	memset(&p, 0, sizeof(p));
	p.max_tries = max;
	card = ukt_card_open(dir, &p);
	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	return card;
}

static void test_max_tries(void)
{
	static const unsigned maxes[] = { 3, 15 };
	char *dir, sub[1024];
	ukt_provision p;
	ukt_card *card;
	size_t i;

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		dir = tu_tmpdir();
		expect_max = (int)maxes[i];
		card = open_with_max(dir, maxes[i]);
		UK_CHECK_EQ(pin_tries(0x81, NULL), expect_max);
		UK_CHECK_EQ(pin_tries(0x82, NULL), expect_max);
		block_user();
		ukt_card_close(card);
		card = open_with_max(dir, 10);                  /* stored: 10 does not apply */
		UK_CHECK_EQ(pin_tries(0x81, NULL), 0);
		UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
		UK_CHECK_EQ(reset_retry(&h, 0x02, 0x81, "Reset2024"), 0x9000);
		UK_CHECK_EQ(pin_tries(0x81, NULL), expect_max);
		UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "wrong1234", 9), 0x63C0 | (expect_max - 1));
		ukt_card_close(card);
		tu_rmdir(dir);
		free(dir);
	}
	expect_max = 10;
	/* out of range: refused at provisioning */
	dir = tu_tmpdir();
	memset(&p, 0, sizeof(p));
	snprintf(sub, sizeof(sub), "%s/a", dir);
	p.max_tries = 2;
	UK_CHECK(ukt_card_open(sub, &p) == NULL);
	p.max_tries = 16;
	UK_CHECK(ukt_card_open(sub, &p) == NULL);
	tu_rmdir(dir);
	free(dir);
}

int main(void)
{
	test_block_and_reopen();
	test_reset_on_success();
	test_write_failure();
	test_damaged_state();
	test_provisioning();
	test_change();
	test_reset();
	test_max_tries();
	return uk_test_done("token_pin");
}
