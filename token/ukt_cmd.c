/* ukey token: instruction handlers of the APDU profile (docs/apdu.md, profile 1).
 * The dispatcher (ukt_card.c) has already checked class, selection, secure messaging,
 * P1 P2 and, for instructions that need it, the user PIN of the session; a handler checks
 * its data field, changes the state through ukt_state_commit() and appends response data.
 * A handler that refuses a command leaves the card unchanged. */
#include "ukt_internal.h"

#include <string.h>

#include "uk_crypto.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define FIRMWARE_MAJOR 0
#define FIRMWARE_MINOR 1
#define ALG_MASK_SM2 0x0001

const uint8_t ukt_aid[6] = { 0xF0, 0x75, 0x6B, 0x65, 0x79, 0x01 };
static const char manufacturer[] = "ukey project";
static const char model[] = "ukey-emu";

/* SELECT by AID, ISO 7816-4 §11.1.1. Response FCI: 6F { 84 AID, A5 { 80 01 version } }. */
uint16_t ukt_cmd_select(ukt_card *card, ukt_cmd *c)
{
	static const uint8_t prop[] = { 0x80, 0x01, UKT_PROFILE_VERSION };
	uk_buf *r = c->resp;

	if (c->len == 0)
		return UK_SW_WRONG_LENGTH;
	if (c->len != sizeof(ukt_aid) || memcmp(c->data, ukt_aid, sizeof(ukt_aid)) != 0)
		return UK_SW_NOT_FOUND;
	uk_tlv_put_header(r, 0x6F, 2 + sizeof(ukt_aid) + 2 + sizeof(prop));
	uk_tlv_put(r, 0x84, ukt_aid, sizeof(ukt_aid));
	uk_tlv_put(r, 0xA5, prop, sizeof(prop));
	if (r->failed)
		return UK_SW_UNKNOWN;
	card->selected = 1;
	return UK_SW_OK;
}

static size_t space_used(const ukt_state *st)
{
	size_t i, used = 0;

	for (i = 0; i < UKT_MAX_CONTAINERS; i++)
		if (st->cont[i].present)
			used += 16 + st->cont[i].name_len + 2 * sizeof(ukt_keypair);
	return used;
}

/* GET DATA 01/00: device information (S0-B2 serial, label, zone, identity). */
static void get_device_info(const ukt_state *st, uk_buf *r)
{
	uint8_t fw[2] = { FIRMWARE_MAJOR, FIRMWARE_MINOR }, free_b[4], alg[2], ver = UKT_PROFILE_VERSION;

	uk_set_u32(free_b, (uint32_t)(UKT_CAPACITY - space_used(st)));
	uk_set_u16(alg, ALG_MASK_SM2);
	uk_tlv_put(r, 0x80, st->serial, UKT_SERIAL_LEN);
	uk_tlv_put(r, 0x81, st->label, st->label_len);
	uk_tlv_put(r, 0x82, &st->zone, 1);
	uk_tlv_put(r, 0x83, manufacturer, sizeof(manufacturer) - 1);
	uk_tlv_put(r, 0x84, model, sizeof(model) - 1);
	uk_tlv_put(r, 0x85, fw, 2);
	uk_tlv_put(r, 0x86, free_b, 4);
	uk_tlv_put(r, 0x87, alg, 2);
	uk_tlv_put(r, 0x88, &ver, 1);
}

static void put_pin_status(uk_buf *r, unsigned tag, const ukt_pin *pin)
{
	uint8_t v[3];

	v[0] = pin->tries;
	v[1] = pin->max;
	v[2] = (uint8_t)((pin->flags & UKT_PIN_FLAG_MUST_CHANGE) |
	                 (pin->tries == 0 ? UKT_PIN_FLAG_BLOCKED : 0));
	uk_tlv_put(r, tag, v, sizeof(v));
}

/* GET DATA 01/01: PIN status. */
static void get_pin_status(const ukt_state *st, uk_buf *r)
{
	static const uint8_t lens[2] = { UKT_PIN_MIN, UKT_PIN_MAX };

	put_pin_status(r, 0x81, &st->pin[UKT_PIN_USER]);
	put_pin_status(r, 0x82, &st->pin[UKT_PIN_SO]);
	uk_tlv_put(r, 0x83, lens, sizeof(lens));
}

/* { 80 01 alg, 7F49 { 86 41 point } }, built inside out so every length comes from the
 * bytes actually written. */
static void put_pair_info(uk_buf *r, unsigned tag, const ukt_keypair *k)
{
	uk_buf point, pair;

	if (!k->present)
		return;
	uk_buf_init(&point, 0, 0);
	uk_buf_init(&pair, 0, 0);
	uk_tlv_put(&point, 0x86, k->pub, sizeof(k->pub));
	uk_tlv_put(&pair, 0x80, &k->alg, 1);
	uk_tlv_put(&pair, 0x7F49, point.data, point.len);
	if (point.failed || pair.failed)
		r->failed = 1;
	else
		uk_tlv_put(r, tag, pair.data, pair.len);
	uk_buf_free(&point);
	uk_buf_free(&pair);
}

/* GET DATA 01/02: one A0 template per container. */
static void get_containers(const ukt_state *st, uk_buf *r)
{
	const ukt_container *c;
	uk_buf tpl;
	uint8_t i;

	for (i = 0; i < UKT_MAX_CONTAINERS; i++) {
		c = &st->cont[i];
		if (!c->present)
			continue;
		uk_buf_init(&tpl, 0, 0);
		uk_tlv_put(&tpl, 0x80, &i, 1);
		uk_tlv_put(&tpl, 0x81, c->name, c->name_len);
		put_pair_info(&tpl, 0xA4, &c->pair[0]);
		put_pair_info(&tpl, 0xA5, &c->pair[1]);
		if (tpl.failed)
			r->failed = 1;
		else
			uk_tlv_put(r, 0xA0, tpl.data, tpl.len);
		uk_buf_free(&tpl);
	}
}

/* GET DATA, ISO 7816-4 §11.4.3, proprietary data objects selected by P2 (P1 = 01). */
uint16_t ukt_cmd_get_data(ukt_card *card, ukt_cmd *c)
{
	static void (*const objects[])(const ukt_state *, uk_buf *) = {
		get_device_info, get_pin_status, get_containers,
	};

	if (c->len != 0)
		return UK_SW_WRONG_LENGTH;
	objects[c->apdu->p2](&card->st, c->resp);
	return c->resp->failed ? UK_SW_UNKNOWN : UK_SW_OK;
}

/* GENERAL AUTHENTICATE, ISO 7816-4 §11.5.5: 7C { 81 41 Q_host } opens a secure session. */
uint16_t ukt_cmd_general_auth(ukt_card *card, ukt_cmd *c)
{
	const uint8_t *p = c->data;
	uk_tlv tpl, q;

	if (c->len == 0)
		return UK_SW_WRONG_LENGTH;
	if (uk_tlv_next(&p, c->data + c->len, &tpl) != 1 || tpl.tag != 0x7C ||
	    p != c->data + c->len)
		return UK_SW_WRONG_DATA;
	p = tpl.value;
	if (uk_tlv_next(&p, tpl.value + tpl.len, &q) != 1 || q.tag != 0x81 ||
	    q.len != UK_SM2_POINT_LEN || p != tpl.value + tpl.len)
		return UK_SW_WRONG_DATA;
	return ukt_session_open(card, q.value, c->resp);
}

/* VERIFY, ISO 7816-4 §11.5.6. Plain: query only. Secured: verify (encrypted PIN), query
 * (empty payload), or P1 = FF reset of the session's verified state. */
uint16_t ukt_cmd_verify(ukt_card *card, ukt_cmd *c)
{
	int which = c->apdu->p2 == 0x81 ? UKT_PIN_USER : UKT_PIN_SO;
	const ukt_pin *pin = &card->st.pin[which];

	if (c->sess == NULL) {
		if (c->len != 0 || c->apdu->p1 == 0xFF)
			return UK_SW_SM_MISSING;
		return ukt_pin_status_sw(pin);
	}
	if (c->apdu->p1 == 0xFF) {
		if (c->len != 0)
			return UK_SW_WRONG_LENGTH;
		ukt_pin_logout(c->sess, which);
		return UK_SW_OK;
	}
	if (c->len == 0)
		return c->sess->verified[which] && pin->tries > 0 ? UK_SW_OK : ukt_pin_status_sw(pin);
	if (c->len < UKT_PIN_MIN || c->len > UKT_PIN_MAX)
		return UK_SW_WRONG_LENGTH;
	return ukt_pin_login(card, c->sess, which, c->data, c->len);
}

/* CREATE CONTAINER (proprietary, GM/T 0016 SKF_CreateContainer): payload 81 <name>. */
uint16_t ukt_cmd_create_container(ukt_card *card, ukt_cmd *c)
{
	const uint8_t *p = c->data;
	ukt_state next;
	uk_tlv name;
	uint16_t sw = UK_SW_WRONG_DATA;
	int i, slot = -1;

	memcpy(&next, &card->st, sizeof(next));
	if (uk_tlv_next(&p, c->data + c->len, &name) != 1 || name.tag != 0x81 ||
	    p != c->data + c->len || name.len == 0 || name.len > UKT_NAME_MAX)
		goto out;
	for (i = UKT_MAX_CONTAINERS - 1; i >= 0; i--) {
		if (!next.cont[i].present) {
			slot = i;
			continue;
		}
		if (next.cont[i].name_len == name.len &&
		    memcmp(next.cont[i].name, name.value, name.len) == 0) {
			sw = UK_SW_ALREADY_EXISTS;
			goto out;
		}
	}
	sw = UK_SW_NO_SPACE;
	if (slot < 0)
		goto out;
	next.cont[slot].present = 1;
	next.cont[slot].name_len = (uint8_t)name.len;
	memcpy(next.cont[slot].name, name.value, name.len);
	sw = ukt_state_commit(card, &next);
	if (sw == UK_SW_OK && uk_tlv_put(c->resp, 0x80, &(uint8_t){ (uint8_t)slot }, 1) != 0)
		sw = UK_SW_UNKNOWN;
out:
	ukt_state_wipe(&next);
	return sw;
}

static void put_public_key(uk_buf *r, const uint8_t pub[UK_SM2_POINT_LEN])
{
	uk_tlv_put_header(r, 0x7F49, 2 + UK_SM2_POINT_LEN);
	uk_tlv_put(r, 0x86, pub, UK_SM2_POINT_LEN);
}

/* The new scalar is sealed under the session's token key before it is stored
 * (ukt_keystore.c): the state, in memory and on disk, never holds it in clear. */
static uint16_t generate_sm2(ukt_card *card, const ukt_session *s, unsigned kr, uk_buf *r)
{
	uint8_t d[UK_SM2_PRIV_LEN];
	ukt_state next;
	ukt_keypair *k;
	EVP_PKEY *key = NULL;
	uint16_t sw = UK_SW_UNKNOWN;

	memcpy(&next, &card->st, sizeof(next));
	k = &next.cont[kr / 2].pair[kr % 2];
	k->alg = UKT_ALG_SM2;
	key = uk_sm2_generate();
	if (key == NULL || uk_sm2_get_private(key, d) != 0 ||
	    uk_sm2_get_public(key, k->pub) != 0 || ukt_keystore_key_seal(s->tk, kr, k, d) != 0)
		goto out;
	k->present = 1;
	sw = ukt_state_commit(card, &next);
	if (sw != UK_SW_OK)
		goto out;
	put_public_key(r, k->pub);
	if (r->failed)
		sw = UK_SW_UNKNOWN;
out:
	uk_wipe(d, sizeof(d));
	EVP_PKEY_free(key);
	ukt_state_wipe(&next);
	return sw;
}

/* GENERATE ASYMMETRIC KEY PAIR, ISO 7816-8 §5.1: P1 80 generates (secured, user PIN),
 * P1 81 reads the public key of an existing pair. P2 = key reference. */
uint16_t ukt_cmd_generate(ukt_card *card, ukt_cmd *c)
{
	unsigned kr = c->apdu->p2;
	const ukt_container *cont = &card->st.cont[kr / 2];

	if (c->apdu->p1 == 0x81) {
		if (c->len != 0)
			return UK_SW_WRONG_LENGTH;
		if (!cont->present || !cont->pair[kr % 2].present)
			return UK_SW_REF_NOT_FOUND;
		put_public_key(c->resp, cont->pair[kr % 2].pub);
		return c->resp->failed ? UK_SW_UNKNOWN : UK_SW_OK;
	}
	if (c->sess == NULL)
		return UK_SW_SM_MISSING;
	if (!c->sess->verified[UKT_PIN_USER] || !c->sess->has_tk ||
	    card->st.pin[UKT_PIN_USER].tries == 0)
		return UK_SW_SECURITY_STATUS;
	if (c->len != 3 || c->data[0] != 0x80 || c->data[1] != 1)
		return UK_SW_WRONG_DATA;
	if (c->data[2] != UKT_ALG_SM2)
		return UK_SW_WRONG_DATA;        /* 02 P-256 and 03 RSA-2048: planned */
	if (!cont->present)
		return UK_SW_REF_NOT_FOUND;
	return generate_sm2(card, c->sess, kr, c->resp);
}


/* PSO: COMPUTE DIGITAL SIGNATURE, ISO 7816-8 §5.4; payload KR || mech || data.
 * mech 01: SM2 over a caller-computed e (GM/T 0003.2 §6.1 A3-A7), answer r || s. */
uint16_t ukt_cmd_pso(ukt_card *card, ukt_cmd *c)
{
	uint8_t sig[UK_SM2_SIG_LEN];
	const ukt_keypair *k;
	EVP_PKEY *key;
	uint16_t sw;
	unsigned kr;

	if (c->len < 2)
		return UK_SW_WRONG_LENGTH;
	kr = c->data[0];
	if (kr >= UKT_MAX_KEYS || !card->st.cont[kr / 2].present)
		return UK_SW_REF_NOT_FOUND;
	k = &card->st.cont[kr / 2].pair[kr % 2];
	if (!k->present)
		return UK_SW_REF_NOT_FOUND;
	if (c->data[1] != 0x01 || k->alg != UKT_ALG_SM2)
		return UK_SW_WRONG_DATA;
	if (c->len != 2 + UK_SM3_LEN)
		return UK_SW_WRONG_LENGTH;
	/* A second-generation key signs only once its holder pressed the button. */
	if (card->confirm != NULL && card->confirm(card->confirm_arg) != 0)
		return UK_SW_CONDITIONS;
	if (!c->sess->has_tk)
		return UK_SW_SECURITY_STATUS;
	/* the scalar is unsealed for this one operation only (ukt_keystore.c) */
	key = ukt_keystore_key_load(c->sess->tk, kr, k);
	sw = key != NULL && uk_sm2_sign_e(key, c->data + 2, sig) == 0 &&
	     uk_buf_put(c->resp, sig, sizeof(sig)) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
	EVP_PKEY_free(key);
	return sw;
}
