/* ukey token: the card object and the APDU dispatcher (docs/apdu.md, profile 1).
 *
 * ukt_card_transmit() parses the command (ISO 7816-4 §5.1), checks the class byte,
 * finds the instruction in one table, and checks in order: application selected (6985),
 * secure messaging present/allowed (6987/6882), P1 P2 (6A86/6A88), Le for fixed-size
 * answers (6Cxx), the secure-messaging wrapper (6700/6988), the user PIN of the session
 * (6982); only then the handler runs. Every refusal above happens before any change.
 * Between parsing and the table sit command chaining and GET RESPONSE (ukt_xport.c): a
 * chain executes once, with its reassembled data, when its last part arrives; a streamed
 * chain (a form_table entry with a feed: PSO HASH) gives each part to the feed instead. */
#include "ukt_internal.h"
#include "ukt_files.h"
#include "ukt_xport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "uk_crypto.h"
#include "uk_log.h"
#include "uk_wipe.h"

/* ATR (ISO 7816-3 §8): TS 3B, T0 88 (TD1 present, 8 historical bytes), TD1 80 (TD2
 * present, T=0 indicated), TD2 01 (T=1), historical bytes "ukey-emu", TCK. */
static const uint8_t atr_body[] = {
	0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79, 0x2D, 0x65, 0x6D, 0x75,
};

static const uint8_t default_user_pin[] = "user1234";
static const uint8_t default_so_pin[] = "admin1234";

enum sm_policy { SM_PLAIN, SM_SECURED, SM_EITHER };

static ukt_xport *card_xport(ukt_card *card)
{
	return &card->xport;
}

/* GET RESPONSE, ISO 7816-4:2005 §7.6.1 (docs/apdu.md "Transport"). */
static uint16_t cmd_get_response(ukt_card *card, ukt_cmd *c)
{
	return ukt_xport_get_response(card_xport(card), c->apdu, c->resp);
}

typedef uint16_t (*p1p2_check)(const uk_apdu *a);

typedef struct ins_entry {
	uint8_t cls;            /* 00 interindustry or 80 proprietary (before the SM bit) */
	uint8_t ins;
	enum sm_policy sm;
	int encrypted;          /* secured payload is enciphered (PIN data) */
	int needs_select;
	int needs_user_pin;     /* user PIN verified in the securing session */
	size_t resp_len;        /* fixed response length for the early Le check; 0 = variable */
	p1p2_check p1p2;
	uint16_t (*handler)(ukt_card *card, ukt_cmd *c);
	const char *name;
} ins_entry;

/* 04 00 by AID; 02 0C by file identifier, no FCI (docs/apdu.md "Files") */
static uint16_t p1p2_select(const uk_apdu *a)
{
	return (a->p1 == 0x04 && a->p2 == 0x00) || (a->p1 == 0x02 && a->p2 == 0x0C)
	       ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

/* E0: P1 00 CREATE CONTAINER, 01 CREATE FILE; E4: P1 00 DELETE FILE, 01 DELETE CONTAINER;
 * E2: P1 00 RENAME CONTAINER, 01 RENAME FILE */
static uint16_t p1p2_create_delete(const uk_apdu *a)
{
	return a->p1 <= 0x01 && a->p2 == 0x00 ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

/* B0/D6: 15-bit offset (P1 b8 set would name a short EF identifier: not supported) */
static uint16_t p1p2_offset(const uk_apdu *a)
{
	return (a->p1 & 0x80) == 0 ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

static uint16_t p1p2_get_data(const uk_apdu *a)
{
	return a->p1 == 0x01 && a->p2 <= 0x03 ? UK_SW_OK : UK_SW_REF_NOT_FOUND;
}

static uint16_t p1p2_zero(const uk_apdu *a)
{
	return a->p1 == 0x00 && a->p2 == 0x00 ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

static uint16_t p1p2_verify(const uk_apdu *a)
{
	if (a->p1 != 0x00 && a->p1 != 0xFF)
		return UK_SW_WRONG_P1P2;
	return a->p2 == 0x81 || a->p2 == 0x82 ? UK_SW_OK : UK_SW_REF_NOT_FOUND;
}

/* pinpad VERIFY: P1 00, the user PIN only (the SO PIN is never typed on the key) */
static uint16_t p1p2_verify_pinpad(const uk_apdu *a)
{
	if (a->p1 != 0x00)
		return UK_SW_WRONG_P1P2;
	return a->p2 == 0x81 ? UK_SW_OK : UK_SW_REF_NOT_FOUND;
}

static uint16_t p1p2_generate(const uk_apdu *a)
{
	if (a->p1 != 0x80 && a->p1 != 0x81)
		return UK_SW_WRONG_P1P2;
	return a->p2 < UKT_MAX_KEYS ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

static uint16_t p1p2_change_ref(const uk_apdu *a)
{
	if (a->p1 != 0x00)
		return UK_SW_WRONG_P1P2;
	return a->p2 == 0x81 || a->p2 == 0x82 ? UK_SW_OK : UK_SW_REF_NOT_FOUND;
}

static uint16_t p1p2_reset_retry(const uk_apdu *a)
{
	if (a->p1 != 0x02)
		return UK_SW_WRONG_P1P2;
	return a->p2 == 0x81 ? UK_SW_OK : UK_SW_REF_NOT_FOUND;
}

/* ISO 7816-8 §5.4 COMPUTE DIGITAL SIGNATURE (9E 9A), §5.8 DECIPHER (80 86 with a key pair,
 * 80 84 with a session key), §5.7 ENCIPHER (84 80, session key; ukt_cmd_import.c) and §5.2
 * HASH (90 80, plain: see form_table). */
static uint16_t p1p2_pso(const uk_apdu *a)
{
	return (a->p1 == 0x9E && a->p2 == 0x9A) || (a->p1 == 0x80 && a->p2 == 0x86) ||
	       (a->p1 == 0x84 && a->p2 == 0x80) || (a->p1 == 0x80 && a->p2 == 0x84) ||
	       (a->p1 == 0x90 && a->p2 == 0x80)
	       ? UK_SW_OK : UK_SW_WRONG_P1P2;
}

/* E6 / E8 (ukt_cmd_import.c): P1 00, P2 an encryption pair reference (usage 1). */
static uint16_t p1p2_import(const uk_apdu *a)
{
	return a->p1 == 0x00 && a->p2 < UKT_MAX_KEYS && (a->p2 & 1) == 1 ? UK_SW_OK
	                                                                  : UK_SW_WRONG_P1P2;
}

/* E8: IMPORT SESSION KEY (P1 00, P2 as E6) or GENERATE SESSION KEY (P1 01, P2 00). */
static uint16_t p1p2_session_key(const uk_apdu *a)
{
	if (a->p1 == 0x01)
		return a->p2 == 0x00 ? UK_SW_OK : UK_SW_WRONG_P1P2;
	return p1p2_import(a);
}

/* The instruction table of docs/apdu.md. */
static const ins_entry ins_table[] = {
	{ 0x00, 0xA4, SM_PLAIN, 0, 0, 0, 2 + 6 + 2 + 3 + 2, p1p2_select, ukt_cmd_select_any, "SELECT" },
	{ 0x00, 0xCA, SM_PLAIN, 0, 1, 0, 0, p1p2_get_data, ukt_cmd_get_data, "GET DATA" },
	{ 0x00, 0x86, SM_PLAIN, 0, 1, 0, 2 + 3 + 2 + 65, p1p2_zero, ukt_cmd_general_auth,
	  "GENERAL AUTHENTICATE" },
	{ 0x00, 0x20, SM_EITHER, 1, 1, 0, 0, p1p2_verify, ukt_cmd_verify, "VERIFY" },
	{ 0x80, 0x20, SM_SECURED, 1, 1, 0, 0, p1p2_verify_pinpad, ukt_cmd_verify_pinpad,
	  "VERIFY (pinpad)" },
	{ 0x80, 0xE0, SM_SECURED, 0, 1, 1, 3, p1p2_create_delete, ukt_cmd_create_any,
	  "CREATE CONTAINER/FILE" },
	{ 0x80, 0xE4, SM_SECURED, 0, 1, 1, 0, p1p2_create_delete, ukt_cmd_delete_any,
	  "DELETE FILE/CONTAINER" },
	{ 0x80, 0xE2, SM_SECURED, 0, 1, 1, 0, p1p2_create_delete, ukt_cmd_rename_any,
	  "RENAME CONTAINER/FILE" },
	{ 0x00, 0xB0, SM_PLAIN, 0, 1, 0, 0, p1p2_offset, ukt_cmd_read_binary, "READ BINARY" },
	{ 0x00, 0xB1, SM_PLAIN, 0, 1, 0, 0, p1p2_zero, ukt_cmd_read_binary, "READ BINARY" },
	{ 0x00, 0xD6, SM_SECURED, 0, 1, 1, 0, p1p2_offset, ukt_cmd_update_binary,
	  "UPDATE BINARY" },
	{ 0x00, 0xD7, SM_SECURED, 0, 1, 1, 0, p1p2_zero, ukt_cmd_update_binary,
	  "UPDATE BINARY" },
	{ 0x00, 0x46, SM_EITHER, 0, 1, 0, 3 + 2 + 65, p1p2_generate, ukt_cmd_generate,
	  "GENERATE ASYMMETRIC KEY PAIR" },
	{ 0x00, 0x2A, SM_SECURED, 0, 1, 1, 0, p1p2_pso, ukt_cmd_pso_any, "PSO" },
	{ 0x80, 0xE6, SM_SECURED, 0, 1, 1, 0, p1p2_import, ukt_cmd_import_keypair,
	  "IMPORT KEY PAIR" },
	{ 0x80, 0xE8, SM_SECURED, 0, 1, 1, 3, p1p2_session_key, ukt_cmd_session_key_any,
	  "IMPORT / GENERATE SESSION KEY" },
	{ 0x00, 0x24, SM_SECURED, 1, 1, 0, 0, p1p2_change_ref, ukt_cmd_change_ref,
	  "CHANGE REFERENCE DATA" },
	{ 0x00, 0x2C, SM_SECURED, 1, 1, 0, 0, p1p2_reset_retry, ukt_cmd_reset_retry,
	  "RESET RETRY COUNTER" },
	{ 0x80, 0xEE, SM_SECURED, 0, 1, 0, 0, p1p2_zero, ukt_cmd_reinit,
	  "REINITIALISE APPLICATION" },
	{ 0x00, 0xC0, SM_PLAIN, 0, 0, 0, 0, p1p2_zero, cmd_get_response, "GET RESPONSE" },
	{ 0x00, 0x84, SM_PLAIN, 0, 1, 0, 0, p1p2_zero, ukt_cmd_get_challenge, "GET CHALLENGE" },
};

/* Forms (INS P1 P2) of a row whose policy is not the row's. PSO HASH (ISO 7816-8 §5.2,
 * 2A 90 80; ukt_cmd_hash.c) carries no secret: plain, no PIN, a 32-byte answer, unlike the
 * other PSO forms; its chains are streamed (each part hashed as it arrives, ukt_xport.h). */
typedef struct form_entry {
	uint8_t ins, p1, p2;
	enum sm_policy sm;
	int needs_user_pin;
	size_t resp_len;
	uint16_t (*feed)(ukt_card *card, int first, const uint8_t *data, size_t n); /* or NULL */
} form_entry;

static const form_entry form_table[] = {
	{ 0x2A, 0x90, 0x80, SM_PLAIN, 0, UK_SM3_LEN, ukt_hash_feed },
};

static const form_entry *find_form(const uk_apdu *a)
{
	size_t i;

	for (i = 0; i < sizeof(form_table) / sizeof(form_table[0]); i++)
		if (form_table[i].ins == a->ins && form_table[i].p1 == a->p1 &&
		    form_table[i].p2 == a->p2)
			return &form_table[i];
	return NULL;
}

/* The row as it applies to this command: *view is e with its form's policy, if any. */
static const ins_entry *entry_for(const ins_entry *e, const uk_apdu *a, ins_entry *view)
{
	const form_entry *f = find_form(a);

	if (f == NULL)
		return e;
	*view = *e;
	view->sm = f->sm;
	view->needs_user_pin = f->needs_user_pin;
	view->resp_len = f->resp_len;
	return view;
}

/* ISO 7816-4 §5.4.1 class byte: b8 proprietary, b4-b3 secure messaging, b5 chaining,
 * b2-b1 logical channel. The profile uses 00, 04, 80, 84 only. */
static uint16_t check_cla(uint8_t cla)
{
	if ((cla & 0x60) != 0 || (cla & 0x08) != 0)
		return UK_SW_CLA_UNSUPPORTED;
	if ((cla & 0x03) != 0)
		return UK_SW_LOGICAL_CHANNEL;
	if ((cla & UKT_CLA_CHAIN) != 0)         /* chains are reassembled before the table */
		return UK_SW_CHAINING_UNSUPPORTED;
	return UK_SW_OK;
}

static uint16_t find_ins(const uk_apdu *a, const ins_entry **out)
{
	uint16_t sw = UK_SW_INS_UNSUPPORTED;
	size_t i;

	for (i = 0; i < sizeof(ins_table) / sizeof(ins_table[0]); i++) {
		if (ins_table[i].ins != a->ins)
			continue;
		if (ins_table[i].cls != (a->cla & 0x80)) {
			sw = UK_SW_CLA_UNSUPPORTED;
			continue;
		}
		*out = &ins_table[i];
		return UK_SW_OK;
	}
	return sw;
}

/* Early Le check of a fixed-size answer, the rule of ukt_xport_answer(): a short Le
 * smaller than an answer of at most 256 bytes gives 6Cxx with the exact length (ISO 7816-4
 * §5.1.3); a longer answer is paged with 61xx; an extended Le too small gives 6700. */
static uint16_t check_le(const uk_apdu *a, size_t len)
{
	if (!a->has_le || a->le >= len)
		return UK_SW_OK;
	if (a->extended)
		return UK_SW_WRONG_LENGTH;
	return len <= UKT_SHORT_NE_MAX ? (uint16_t)(UK_SW_WRONG_LE | (len & 0xFF)) : UK_SW_OK;
}

/* The forms of a two-form instruction that answer no data (SELECT by file identifier,
 * CREATE FILE) have no fixed answer length for the early Le check. */
static size_t entry_resp_len(const ins_entry *e, const uk_apdu *a)
{
	if ((a->ins == 0xA4 && a->p1 == 0x02) || (a->ins == 0xE0 && a->p1 == 0x01))
		return 0;
	return e->resp_len;
}

static uint16_t check_entry(const ukt_card *card, const ins_entry *e, const uk_apdu *a)
{
	size_t resp_len = entry_resp_len(e, a);

	int secured = (a->cla & UK_SM_CLA_BIT) != 0;
	uint16_t sw;

	if (e->needs_select && !card->selected)
		return UK_SW_CONDITIONS;
	if (secured && e->sm == SM_PLAIN)
		return UK_SW_SM_UNSUPPORTED;
	if (!secured && e->sm == SM_SECURED)
		return UK_SW_SM_MISSING;
	sw = e->p1p2(a);
	if (sw != UK_SW_OK)
		return sw;
	return resp_len ? check_le(a, resp_len) : UK_SW_OK;
}

/* Check and strip the secure-messaging wrapper (docs/apdu.md "Secure session"). */
static uint16_t unwrap(ukt_card *card, const ins_entry *e, const uk_apdu *a, ukt_cmd *c,
                       uk_buf *plain)
{
	ukt_session *s;
	uint16_t sw;

	if (a->lc < UK_SM_OVERHEAD)
		return UK_SW_WRONG_LENGTH;
	s = ukt_session_find(card, a->data[0]);
	if (s == NULL)
		return UK_SW_SM_INCORRECT;
	/* An empty payload may be sent as no bytes at all even for enciphered instructions
	 * (secured VERIFY query and P1 = FF); it is still covered by the MAC. */
	sw = uk_sm_unwrap(&s->sm, a->cla & (uint8_t)~0x10, a->ins, a->p1, a->p2, a->data, a->lc,
	                  e->encrypted && a->lc > UK_SM_OVERHEAD, plain);
	if (sw != UK_SW_OK)
		return sw;
	s->last_use = ++card->tick;
	c->sess = s;
	c->data = plain->data;
	c->len = plain->len;
	return UK_SW_OK;
}

/* Run one whole command (unchained, or a chain reassembled by ukt_xport_chain). */
static uint16_t dispatch(ukt_card *card, const uk_apdu *a, uk_buf *resp, int streamed)
{
	const ins_entry *e = NULL;
	ins_entry view;
	uk_buf plain;
	ukt_cmd c;
	uint16_t sw;

	uk_buf_init(&plain, 0, 1);
	sw = check_cla(a->cla);
	if (sw == UK_SW_OK)
		sw = find_ins(a, &e);
	if (sw == UK_SW_OK) {
		e = entry_for(e, a, &view);
		sw = check_entry(card, e, a);
	}
	if (sw != UK_SW_OK)
		goto out;
	memset(&c, 0, sizeof(c));
	c.apdu = a;
	c.streamed = streamed;
	c.data = a->data;
	c.len = a->lc;
	c.resp = resp;
	if (a->cla & UK_SM_CLA_BIT) {
		sw = unwrap(card, e, a, &c, &plain);
		if (sw != UK_SW_OK)
			goto out;
	}
	if (e->needs_user_pin &&
	    (c.sess == NULL || !c.sess->verified[UKT_PIN_USER] ||
	     card->st.pin[UKT_PIN_USER].tries == 0)) {
		sw = UK_SW_SECURITY_STATUS;
		goto out;
	}
	sw = e->handler(card, &c);
	uk_log(UK_LOG_DEBUG, "token", "%s -> %04X", e->name, sw);
out:
	uk_buf_free(&plain);
	return sw;
}

/* Instructions whose command has no data field: chaining them is refused (6884). */
static const uint8_t ins_without_data[] = { 0xCA /* GET DATA */, 0xC0 /* GET RESPONSE */,
                                            0x84 /* GET CHALLENGE */,
                                            0xB0 /* READ BINARY */ };

/* The checks of a chain's first part (ukt_chain_check): those of the whole command as far
 * as they do not depend on the data, so a chain that cannot run is refused at once and
 * nothing is kept. The Le of a non-final part means nothing and is not checked. */
static uint16_t chain_check(void *arg, const uk_apdu *first)
{
	const ins_entry *e = NULL;
	ins_entry view;
	uk_apdu h = *first;
	uint16_t sw;
	size_t i;

	h.cla &= (uint8_t)~UKT_CLA_CHAIN;
	h.has_le = 0;
	h.le = 0;
	sw = check_cla(h.cla);
	if (sw == UK_SW_OK)
		sw = find_ins(&h, &e);
	for (i = 0; sw == UK_SW_OK && i < sizeof(ins_without_data); i++)
		if (h.ins == ins_without_data[i])
			sw = UK_SW_CHAINING_UNSUPPORTED;
	return sw == UK_SW_OK ? check_entry(arg, entry_for(e, &h, &view), &h) : sw;
}

/* A chain is streamed when its form has a feed (form_table); chain_check accepted it. */
static int chain_streamed(void *arg, const uk_apdu *first)
{
	const form_entry *f = find_form(first);

	(void)arg;
	return f != NULL && f->feed != NULL;
}

static uint16_t chain_feed(void *arg, int first, const uk_apdu *part)
{
	return find_form(part)->feed(arg, first, part->data, part->lc);
}

/* ISO 7816-4 transmission: GET RESPONSE keeps the pending answer, any other command drops
 * it; chaining decides whether something executes; the answer is fitted to Ne. */
static uint16_t transmit_apdu(ukt_card *card, const uint8_t *cmd, size_t len, uk_buf *resp)
{
	ukt_xport *x = card_xport(card);
	const ukt_chain_ops ops = { chain_check, chain_streamed, chain_feed, card };
	uk_apdu a, whole;
	uint16_t sw;
	int r;

	sw = uk_apdu_parse(cmd, len, &a);
	if (sw != UK_SW_OK || a.ins != UKT_INS_GET_RESPONSE)
		ukt_xport_drop_response(x);
	if (sw != UK_SW_OK) {
		ukt_xport_reset(x);     /* not a command of any chain */
		return sw;
	}
	r = ukt_xport_chain(x, &a, &ops, &whole, &sw);
	if (r == UKT_CHAIN_ANSWER)
		return sw;
	sw = dispatch(card, &whole, resp, r == UKT_CHAIN_EXECUTE_STREAMED);
	return ukt_xport_answer(x, &whole, resp, sw);
}

/* Status words that carry response data: 9000, 61xx (a piece of a longer answer) and 6282
 * (READ BINARY reached the end of the file before Ne bytes, ISO 7816-4 §11.2.3). */
static int sw_has_data(uint16_t sw)
{
	return sw == UK_SW_OK || (sw & 0xFF00) == UK_SW_BYTES_REMAINING || sw == 0x6282;
}

int ukt_card_transmit(ukt_card *card, const uint8_t *cmd, size_t len, uint8_t *resp,
                      size_t *resp_len)
{
	uk_buf out;
	uint16_t sw;
	size_t n = 0;

	if (resp == NULL || resp_len == NULL || *resp_len < 2)
		return -1;
	uk_buf_init(&out, UKT_RESP_MAX - 2, 1);
	if (card == NULL || !card->powered)
		sw = UK_SW_CONDITIONS;
	else
		sw = transmit_apdu(card, cmd, len, &out);
	if (sw_has_data(sw) && out.len > *resp_len - 2) {
		sw = UK_SW_UNKNOWN;     /* caller's buffer too small for the answer */
		ukt_xport_drop_response(card_xport(card));
	}
	if (sw_has_data(sw) && out.len > 0) {
		memcpy(resp, out.data, out.len);
		n = out.len;
	}
	uk_set_u16(resp + n, sw);
	*resp_len = n + 2;
	uk_buf_free(&out);
	return 0;
}

/* ---- power, ATR ---- */

int ukt_card_power(ukt_card *card, int op)
{
	if (op != UKT_POWER_OFF && op != UKT_POWER_ON && op != UKT_POWER_RESET)
		return -1;
	if (op != UKT_POWER_ON || !card->powered) {
		card->selected = 0;
		ukt_files_deselect(card);
		ukt_sessions_clear(card);
		ukt_xport_reset(card_xport(card));      /* no chain or pending answer survives */
		ukt_hash_drop(card);                    /* nor the digest of a streamed chain */
	}
	card->powered = op != UKT_POWER_OFF;
	return 0;
}

size_t ukt_card_atr(const ukt_card *card, uint8_t buf[UKT_ATR_MAX])
{
	uint8_t tck = 0;
	size_t i;

	(void)card;
	memcpy(buf, atr_body, sizeof(atr_body));
	for (i = 1; i < sizeof(atr_body); i++)   /* ISO 7816-3 §8.2.5: XOR of T0..last */
		tck ^= atr_body[i];
	buf[sizeof(atr_body)] = tck;
	return sizeof(atr_body) + 1;
}

const char *ukt_card_serial(const ukt_card *card)
{
	return card->st.serial;
}

void ukt_card_set_write_hook(ukt_card *card, ukt_write_hook hook, void *arg)
{
	card->hook = hook;
	card->hook_arg = arg;
}

void ukt_card_set_confirm_hook(ukt_card *card, ukt_confirm_hook hook, void *arg)
{
	card->confirm = hook;
	card->confirm_arg = arg;
}

void ukt_card_set_pinpad_hook(ukt_card *card, ukt_pinpad_hook hook, void *arg)
{
	card->pinpad = hook;
	card->pinpad_arg = arg;
}

/* ---- open, provision, close ---- */

static int serial_valid(const char *s)
{
	size_t i;

	for (i = 0; i < UKT_SERIAL_LEN; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[UKT_SERIAL_LEN] == '\0';
}

/* The default serial: "8856" then 16 digits (index * P + C) mod 10^16. P is coprime with 10,
 * so the map is a bijection on 16-digit numbers: deterministic, and the last 16 digits (the
 * PKCS#11 serialNumber field) differ for every index while looking like a printed serial. */
static void default_serial(char out[UKT_SERIAL_LEN + 1], unsigned index)
{
	const unsigned __int128 p = 6364136223846793u, c = 3141592653589793u;
	const unsigned long long m = 10000000000000000ull;
	unsigned long long v = (unsigned long long)((index * p + c) % m);

	snprintf(out, UKT_SERIAL_LEN + 1, "8856%016llu", v);
}

/* Factory state (docs/design.md "Emulated key defaults"). */
static int provision(ukt_state *st, const ukt_provision *d)
{
	const char *label = d->label != NULL ? d->label : "ukey";
	const uint8_t *up = d->user_pin ? d->user_pin : default_user_pin;
	const uint8_t *sp = d->so_pin ? d->so_pin : default_so_pin;
	size_t ul = d->user_pin ? d->user_pin_len : sizeof(default_user_pin) - 1;
	size_t sl = d->so_pin ? d->so_pin_len : sizeof(default_so_pin) - 1;

	memset(st, 0, sizeof(*st));
	if (d->serial != NULL)
		snprintf(st->serial, sizeof(st->serial), "%s", d->serial);
	else
		default_serial(st->serial, d->index);
	if (d->serial != NULL && (strlen(d->serial) != UKT_SERIAL_LEN || !serial_valid(st->serial)))
		return -1;
	if (strlen(label) == 0 || strlen(label) > UKT_LABEL_MAX)
		return -1;
	st->label_len = (uint8_t)strlen(label);
	memcpy(st->label, label, st->label_len);
	st->zone = d->zone ? d->zone : 0x02;
	if (st->zone != 0x01 && st->zone != 0x02)
		return -1;
	/* both PINs factory (must change); a random token key sealed under each */
	return ukt_keystore_provision(st, up, ul, sp, sl, d->max_tries);
}

static int make_dir(const char *dir)
{
	char *parent = strdup(dir), *slash;
	int ret = -1;

	if (parent == NULL)
		return -1;
	if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
		ret = 0;
		goto out;
	}
	if (errno != ENOENT)
		goto out;
	slash = strrchr(parent, '/');
	if (slash == NULL || slash == parent)
		goto out;
	*slash = '\0';
	if (make_dir(parent) == 0 && (mkdir(dir, 0700) == 0 || errno == EEXIST))
		ret = 0;
out:
	free(parent);
	return ret;
}

ukt_card *ukt_card_open(const char *state_dir, const ukt_provision *defaults)
{
	static const ukt_provision none;
	ukt_card *card = NULL;
	int r = -1;

	if (state_dir == NULL || make_dir(state_dir) != 0)
		goto out;
	card = calloc(1, sizeof(*card));
	if (card == NULL)
		goto out;
	ukt_xport_init(card_xport(card));
	if ((card->dir = strdup(state_dir)) == NULL)
		goto out;
	r = ukt_state_load(state_dir, &card->st);
	if (r == 0)     /* no card here yet: provision one and make it durable */
		r = provision(&card->st, defaults ? defaults : &none) == 0 &&
		    ukt_state_commit(card, &card->st) == UK_SW_OK ? 1 : -1;
	if (r == 1 && ukt_files_open(card) != 0)
		r = -1;
	card->powered = 1;
out:
	if (r != 1) {
		ukt_card_close(card);
		card = NULL;
	}
	return card;
}

void ukt_card_close(ukt_card *card)
{
	if (card == NULL)
		return;
	ukt_sessions_clear(card);
	ukt_xport_free(card_xport(card));
	ukt_hash_drop(card);
	ukt_files_close(card);
	free(card->dir);
	uk_wipe(card, sizeof(*card));
	free(card);
}
