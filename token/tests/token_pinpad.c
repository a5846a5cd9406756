/* token_pinpad: VERIFY with the key's own pinpad (docs/apdu.md "VERIFY with the pinpad",
 * 84 20 00 81): the PIN comes from the card's pinpad hook, never from the host; the same
 * decrement-persist-compare as VERIFY; login in the securing session only; cancel/timeout
 * 6985 with no try used; a key without a pinpad 6A81; GET DATA 00 tag 89 (features). Every
 * command APDU the host sends is logged and must never hold a PIN. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "uk_tlv.h"
#include "token_util.h"

enum { PAD_PIN, PAD_CANCEL };

typedef struct pad {
	int mode;
	const char *pin;
	size_t len;
	int calls;
} pad;

static pad the_pad;
static int writes;
static uint8_t sent[1 << 20];   /* every command APDU sent, back to back */
static size_t sent_len;

static int pad_hook(void *arg, uint8_t *pin, size_t cap, size_t *len)
{
	pad *p = arg;

	p->calls++;
	if (p->mode != PAD_PIN)
		return -1;
	memcpy(pin, p->pin, p->len < cap ? p->len : cap);
	*len = p->len;
	return 0;
}

static int confirm_hook(void *arg)
{
	(void)arg;
	return 0;
}

static int count_write(void *arg)
{
	(void)arg;
	writes++;
	return 0;
}

static int fail_write(void *arg)
{
	int *nth = arg;

	writes++;
	return nth == NULL || --*nth <= 0 ? -1 : 0;
}

static int log_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	UK_CHECK(sent_len + n <= sizeof(sent));
	memcpy(sent + sent_len, cmd, n);
	sent_len += n;
	return ukt_card_transmit(ctx, cmd, n, resp, rlen);
}

/* A host with its own secure session on card, every APDU logged. */
static void host_open(ukt_host *h, ukt_card *card)
{
	ukt_host_init(h, log_xfer, card);
	UK_CHECK_EQ(ukt_host_select(h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(h), 0x9000);
}

static void pad_set(int mode, const char *pin)
{
	the_pad.mode = mode;
	the_pad.pin = pin;
	the_pad.len = pin != NULL ? strlen(pin) : 0;
}

/* The pinpad VERIFY: 84 20 00 81, secured, empty payload (no PIN from the host). */
static uint16_t pad_verify(ukt_host *h)
{
	size_t at = sent_len;
	uint16_t sw = ukt_host_secured(h, 0x80, 0x20, 0x00, 0x81, NULL, 0, 0, UKT_HOST_NO_LE);

	/* CLA INS P1 P2, Lc = SID + CTR + MAC: nothing else crossed */
	UK_CHECK_EQ(sent_len - at, 5 + 21);
	UK_CHECK_MEM(sent + at, "\x84\x20\x00\x81\x15", 5);
	return sw;
}

/* secured VERIFY query (docs/apdu.md): 9000 when the user PIN is verified in h's session */
static uint16_t query(ukt_host *h)
{
	return ukt_host_secured(h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE);
}

static int user_tries(ukt_host *h)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(h, "00CA010100"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h->resp, h->rlen, 0x81, &t), 1);
	UK_CHECK_EQ(t.len, 3);
	return t.value[0];
}

static int features(ukt_host *h)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h->resp, h->rlen, 0x89, &t), 1);
	UK_CHECK_EQ(t.len, 1);
	return t.value[0];
}

static ukt_card *pad_card(const char *dir)
{
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	ukt_card_set_pinpad_hook(card, pad_hook, &the_pad);
	ukt_card_set_write_hook(card, count_write, NULL);
	memset(&the_pad, 0, sizeof(the_pad));
	writes = 0;
	return card;
}

/* GET DATA 00 tag 89: bit 0 the button, bit 1 the pinpad (what the module maps to
 * CKF_PROTECTED_AUTHENTICATION_PATH). A key without a pinpad: 6A81, nothing changed. */
static void test_features_and_absent(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = ukt_card_open(dir, NULL);
	unsigned char *snap;
	size_t snaplen;
	ukt_host h;

	UK_CHECK(card != NULL);
	host_open(&h, card);
	UK_CHECK_EQ(features(&h), 0x00);
	snap = tu_state_bytes(dir, &snaplen);
	UK_CHECK_EQ(pad_verify(&h), 0x6A81);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	UK_CHECK_EQ(user_tries(&h), 10);
	ukt_card_set_pinpad_hook(card, pad_hook, &the_pad);
	UK_CHECK_EQ(features(&h), 0x02);
	ukt_card_set_confirm_hook(card, confirm_hook, NULL);
	UK_CHECK_EQ(features(&h), 0x03);
	ukt_card_set_pinpad_hook(card, NULL, NULL);
	UK_CHECK_EQ(features(&h), 0x01);
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

/* Right PIN on the pad: login in the session that sent the VERIFY, and only there. */
static void test_right_pin(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = pad_card(dir);
	ukt_host a, b;

	host_open(&a, card);
	host_open(&b, card);
	pad_set(PAD_PIN, "user1234");
	UK_CHECK_EQ(pad_verify(&a), 0x9000);
	UK_CHECK_EQ(the_pad.calls, 1);
	UK_CHECK_EQ(writes, 2);                         /* the decrement, then the reset */
	UK_CHECK_EQ(query(&a), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&a, "pad"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&a, 0, 1, NULL), 0x9000);
	UK_CHECK_EQ(query(&b), 0x63CA);                 /* the other session: not logged in */
	UK_CHECK_EQ(ukt_host_create_container(&b, "other"), 0x6982);
	UK_CHECK_EQ(user_tries(&a), 10);
	/* the encrypted form of the empty payload (one padding block) is accepted too */
	UK_CHECK_EQ(ukt_host_secured(&b, 0x80, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(query(&b), 0x9000);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

/* Wrong PIN on the pad: 63Cx, the counter written (durably) before the comparison, and the
 * session's earlier login ends, as with VERIFY. */
static void test_wrong_pin(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = pad_card(dir);
	int nth;
	ukt_host a;

	host_open(&a, card);
	UK_CHECK_EQ(ukt_host_verify(&a, 0x81, "user1234", 8), 0x9000);
	writes = 0;
	pad_set(PAD_PIN, "wrong1234");
	UK_CHECK_EQ(pad_verify(&a), 0x63C9);
	UK_CHECK_EQ(writes, 1);
	UK_CHECK_EQ(query(&a), 0x63C9);
	ukt_card_close(card);
	card = pad_card(dir);                           /* the used try is on disk */
	host_open(&a, card);
	UK_CHECK_EQ(user_tries(&a), 9);

	/* the decrement cannot be written: even the right PIN is not compared */
	ukt_card_set_write_hook(card, fail_write, NULL);
	pad_set(PAD_PIN, "user1234");
	UK_CHECK_EQ(pad_verify(&a), 0x6581);
	UK_CHECK_EQ(query(&a), 0x63C9);
	UK_CHECK_EQ(user_tries(&a), 9);
	/* the decrement written, the reset not: the try stays used, no login */
	nth = 2;
	ukt_card_set_write_hook(card, fail_write, &nth);
	UK_CHECK_EQ(pad_verify(&a), 0x6581);
	UK_CHECK_EQ(user_tries(&a), 8);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(pad_verify(&a), 0x9000);
	UK_CHECK_EQ(user_tries(&a), 10);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

/* Cancel or timeout at the pad: 6985, no try used, nothing written, the session as it was. */
static void test_cancel(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = pad_card(dir);
	unsigned char *snap;
	size_t snaplen;
	ukt_host a;

	host_open(&a, card);
	UK_CHECK_EQ(ukt_host_verify(&a, 0x81, "user1234", 8), 0x9000);
	writes = 0;
	snap = tu_state_bytes(dir, &snaplen);
	pad_set(PAD_CANCEL, NULL);
	UK_CHECK_EQ(pad_verify(&a), 0x6985);
	UK_CHECK_EQ(the_pad.calls, 1);
	UK_CHECK_EQ(writes, 0);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	UK_CHECK_EQ(user_tries(&a), 10);
	UK_CHECK_EQ(query(&a), 0x9000);                 /* still logged in */
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

/* A PIN of a length no PIN has (too short, longer than the card's buffer): 6700, no try.
 * A blocked PIN: 6983 without asking the holder. Header errors before anything. */
static void test_refusals(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = pad_card(dir);
	static const char long_pin[] = "a1234567890123456789012345678901234567890";
	int i;
	ukt_host a;

	host_open(&a, card);
	pad_set(PAD_PIN, "abc12");
	UK_CHECK_EQ(pad_verify(&a), 0x6700);
	pad_set(PAD_PIN, long_pin);
	UK_CHECK_EQ(pad_verify(&a), 0x6700);
	UK_CHECK_EQ(user_tries(&a), 10);
	UK_CHECK_EQ(writes, 0);
	the_pad.calls = 0;
	UK_CHECK_EQ(ukt_host_hex(&a, "80200081"), 0x6987);                 /* plain */
	UK_CHECK_EQ(ukt_host_secured(&a, 0x80, 0x20, 0x00, 0x82, NULL, 0, 0, UKT_HOST_NO_LE),
	            0x6A88);                                                /* SO PIN: never */
	UK_CHECK_EQ(ukt_host_secured(&a, 0x80, 0x20, 0xFF, 0x81, NULL, 0, 0, UKT_HOST_NO_LE),
	            0x6A86);
	UK_CHECK_EQ(ukt_host_secured(&a, 0x80, 0x20, 0x00, 0x81, (const uint8_t *)"user1234", 8,
	                             1, UKT_HOST_NO_LE), 0x6700);         /* a PIN from the host */
	UK_CHECK_EQ(the_pad.calls, 0);
	UK_CHECK_EQ(user_tries(&a), 10);
	for (i = 9; i >= 1; i--)
		UK_CHECK_EQ(ukt_host_verify(&a, 0x81, "bad12345", 8), 0x63C0 | i);
	UK_CHECK_EQ(ukt_host_verify(&a, 0x81, "bad12345", 8), 0x6983);
	pad_set(PAD_PIN, "user1234");
	UK_CHECK_EQ(pad_verify(&a), 0x6983);
	UK_CHECK_EQ(the_pad.calls, 0);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

int main(void)
{
	test_features_and_absent();
	test_right_pin();
	test_wrong_pin();
	test_cancel();
	test_refusals();
	/* PINs the host sent (VERIFY) went encrypted, the pad's not at all: none in any APDU */
	UK_CHECK(sent_len > 0);
	UK_CHECK(memmem(sent, sent_len, "user1234", 8) == NULL);
	UK_CHECK(memmem(sent, sent_len, "wrong1234", 9) == NULL);
	return uk_test_done("token_pinpad");
}
