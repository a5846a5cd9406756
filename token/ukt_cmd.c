/* ukey token: instruction handlers of the APDU profile (docs/apdu.md, profile 1).
 * The dispatcher (ukt_card.c) has already checked class, selection, secure messaging,
 * P1 P2 and, for instructions that need it, the user PIN of the session; a handler checks
 * its data field, changes the state through ukt_state_commit() and appends response data.
 * A handler that refuses a command leaves the card unchanged. */
#include "ukt_internal.h"
#include "ukt_files.h"

#include <string.h>

#include <openssl/rand.h>

#include "uk_crypto.h"
#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define FIRMWARE_MAJOR 0
#define FIRMWARE_MINOR 1

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

/* Bytes a container takes: a fixed overhead, the name, each pair's stored records. */
size_t ukt_space_used(const ukt_state *st)
{
	const ukt_container *c;
	size_t i, j, used = 0;

	for (i = 0; i < UKT_MAX_CONTAINERS; i++) {
		c = &st->cont[i];
		if (!c->present)
			continue;
		used += 16 + c->name_len;
		for (j = 0; j < 2; j++)
			if (c->pair[j].present)
				used += 8 + c->pair[j].pub_len + c->pair[j].wrapped_len;
	}
	return used;
}

/* GET DATA 01/00: device information (S0-B2 serial, label, zone, identity). */
static void get_device_info(const ukt_card *card, uk_buf *r)
{
	const ukt_state *st = &card->st;
	uint8_t fw[2] = { FIRMWARE_MAJOR, FIRMWARE_MINOR }, free_b[4], alg[2], ver = UKT_PROFILE_VERSION;
	uint8_t features = (uint8_t)((card->confirm != NULL ? UKT_FEATURE_BUTTON : 0) |
	                             (card->pinpad != NULL ? UKT_FEATURE_PINPAD : 0));

	uk_set_u32(free_b, (uint32_t)ukt_space_free(card));
	uk_set_u16(alg, ukt_alg_mask());
	uk_tlv_put(r, 0x80, st->serial, UKT_SERIAL_LEN);
	uk_tlv_put(r, 0x81, st->label, st->label_len);
	uk_tlv_put(r, 0x82, &st->zone, 1);
	uk_tlv_put(r, 0x83, manufacturer, sizeof(manufacturer) - 1);
	uk_tlv_put(r, 0x84, model, sizeof(model) - 1);
	uk_tlv_put(r, 0x85, fw, 2);
	uk_tlv_put(r, 0x86, free_b, 4);
	uk_tlv_put(r, 0x87, alg, 2);
	uk_tlv_put(r, 0x88, &ver, 1);
	uk_tlv_put(r, 0x89, &features, 1);
}

static void put_pin_status(uk_buf *r, unsigned tag, const ukt_pin *pin)
{
	uint8_t v[3];

	v[0] = pin->tries;
	v[1] = pin->max;
	v[2] = (uint8_t)((pin->flags & (UKT_PIN_FLAG_MUST_CHANGE | UKT_PIN_FLAG_UNINIT)) |
	                 (pin->tries == 0 ? UKT_PIN_FLAG_BLOCKED : 0));
	uk_tlv_put(r, tag, v, sizeof(v));
}

/* GET DATA 01/01: PIN status. */
static void get_pin_status(const ukt_card *card, uk_buf *r)
{
	const ukt_state *st = &card->st;
	static const uint8_t lens[2] = { UKT_PIN_MIN, UKT_PIN_MAX };

	put_pin_status(r, 0x81, &st->pin[UKT_PIN_USER]);
	put_pin_status(r, 0x82, &st->pin[UKT_PIN_SO]);
	uk_tlv_put(r, 0x83, lens, sizeof(lens));
}

/* { 80 01 alg, 7F49 { public key } [, 82 01 01 always authenticate] } with the template
 * GENERATE answers (ukt_alg.c), built inside out so every length comes from the bytes
 * actually written. */
static void put_pair_info(uk_buf *r, unsigned tag, const ukt_keypair *k)
{
	uk_buf pair;

	if (!k->present)
		return;
	uk_buf_init(&pair, 0, 0);
	uk_tlv_put(&pair, 0x80, &k->alg, 1);
	ukt_alg_put_public(&pair, k->alg, k->pub, k->pub_len);
	if (k->always_auth)
		uk_tlv_put(&pair, 0x82, &k->always_auth, 1);
	if (pair.failed)
		r->failed = 1;
	else
		uk_tlv_put(r, tag, pair.data, pair.len);
	uk_buf_free(&pair);
}

/* GET DATA 01/02: one A0 template per container (86/87: certificate lengths, ukt_files.c). */
static void get_containers(const ukt_card *card, uk_buf *r)
{
	const ukt_state *st = &card->st;
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
		ukt_files_put_cert_lengths(card, i, &tpl);
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
	static void (*const objects[])(const ukt_card *, uk_buf *) = {
		get_device_info, get_pin_status, get_containers, ukt_files_put_list,
	};

	if (c->len != 0)
		return UK_SW_WRONG_LENGTH;
	objects[c->apdu->p2](card, c->resp);
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

/* The dispatcher's early Le rule (ukt_card.c, docs/apdu.md "Transport") for an answer whose
 * length is known only once the data is read (algorithm, key): a short Le smaller than an
 * answer of at most 256 bytes gives 6Cxx, an extended Le too small 6700; a longer answer
 * is paged with 61xx. Checked before anything is computed or changed. */
static uint16_t le_check(const uk_apdu *a, size_t n)
{
	if (!a->has_le || a->le >= n)
		return UK_SW_OK;
	if (a->extended)
		return UK_SW_WRONG_LENGTH;
	return n <= UKT_SHORT_NE_MAX ? (uint16_t)(UK_SW_WRONG_LE | (n & 0xFF)) : UK_SW_OK;
}

/* The new private key is sealed under the session's token key before it is stored
 * (ukt_keystore.c): the state, in memory and on disk, never holds it in clear. */
static uint16_t generate_pair(ukt_card *card, const ukt_session *s, unsigned kr,
                              const ukt_alg *alg, int always_auth, uk_buf *r)
{
	uint8_t priv[UKT_PRIV_MAX];
	size_t publen = 0, privlen = 0;
	ukt_state next;
	ukt_keypair *k;
	uint16_t sw = UK_SW_UNKNOWN;

	memcpy(&next, &card->st, sizeof(next));
	k = &next.cont[kr / 2].pair[kr % 2];
	memset(k, 0, sizeof(*k));
	k->alg = alg->id;
	k->always_auth = (uint8_t)always_auth;  /* before sealing: it is in the AD */
	if (alg->generate(k->pub, &publen, priv, &privlen) != 0) {
		uk_log(UK_LOG_ERROR, "token", "key generation (alg %02X) failed", alg->id);
		goto out;
	}
	k->pub_len = (uint16_t)publen;
	if (ukt_keystore_key_seal(s->tk, kr, k, priv, privlen) != 0)
		goto out;
	k->present = 1;
	sw = ukt_state_commit(card, &next);
	if (sw == UK_SW_OK && ukt_alg_put_public(r, k->alg, k->pub, k->pub_len) != 0)
		sw = UK_SW_UNKNOWN;
out:
	uk_wipe(priv, sizeof(priv));
	ukt_state_wipe(&next);
	return sw;
}

/* P1 81: the public key of an existing pair, in the template GENERATE answers. */
static uint16_t read_public(const ukt_container *cont, unsigned kr, ukt_cmd *c)
{
	const ukt_keypair *k = &cont->pair[kr % 2];

	if (c->len != 0)
		return UK_SW_WRONG_LENGTH;
	if (!cont->present || !k->present)
		return UK_SW_REF_NOT_FOUND;
	return ukt_alg_put_public(c->resp, k->alg, k->pub, k->pub_len) == 0 ? UK_SW_OK
	                                                                     : UK_SW_UNKNOWN;
}

/* Payload of GENERATE: 80 01 <alg> [81 01 01 always authenticate]. *aa = 1 when the flag
 * is there; 0, or -1 malformed (6A80). */
static int generate_parse(const ukt_cmd *c, int *aa)
{
	if (c->len != 3 && c->len != 6)
		return -1;
	if (c->data[0] != 0x80 || c->data[1] != 1)
		return -1;
	*aa = c->len == 6;
	return c->len == 3 || (c->data[3] == 0x81 && c->data[4] == 1 && c->data[5] == 1) ? 0 : -1;
}

/* GENERATE ASYMMETRIC KEY PAIR, ISO 7816-8 §5.1: P1 80 generates (secured, user PIN) a pair
 * of the algorithm in 80 01 <alg> (ukt_alg.c), optionally always-authenticate (81 01 01:
 * each PSO with it needs a user VERIFY since its last use), P1 81 reads the public key of an existing
 * pair. P2 = key reference. The answer is 7F49 with the public-key objects of
 * ISO 7816-8 §5.1 table 3: 86 point (EC), 81 modulus and 82 exponent (RSA). */
uint16_t ukt_cmd_generate(ukt_card *card, ukt_cmd *c)
{
	unsigned kr = c->apdu->p2;
	const ukt_container *cont = &card->st.cont[kr / 2];
	const ukt_alg *alg;
	uint16_t sw;
	int aa = 0;

	if (c->apdu->p1 == 0x81)
		return read_public(cont, kr, c);
	if (c->sess == NULL)
		return UK_SW_SM_MISSING;
	if (!c->sess->verified[UKT_PIN_USER] || !c->sess->has_tk ||
	    card->st.pin[UKT_PIN_USER].tries == 0)
		return UK_SW_SECURITY_STATUS;
	if (generate_parse(c, &aa) != 0)
		return UK_SW_WRONG_DATA;
	alg = ukt_alg_find(c->data[2]);
	if (alg == NULL)
		return UK_SW_WRONG_DATA;
	if (!cont->present)
		return UK_SW_REF_NOT_FOUND;
	sw = le_check(c->apdu, alg->tpl_len);
	return sw == UK_SW_OK ? generate_pair(card, c->sess, kr, alg, aa, c->resp) : sw;
}

/* The key from the session's cache, unsealed on first use (ukt_keystore.c), then the
 * mechanism. Input the mechanism refuses (padding, tag, point) is 6A80 and leaves no
 * response data. */
static uint16_t pso_run(ukt_session *s, unsigned kr, const ukt_keypair *k, const ukt_mech *m,
                        ukt_cmd *c)
{
	EVP_PKEY *key = ukt_keystore_key_get(s, kr, k);
	int r = UKT_MECH_FAIL;

	if (key != NULL)
		r = m->run(key, c->data + 2, c->len - 2, c->resp);
	if (r != UKT_MECH_OK || c->resp->failed)
		uk_buf_reset(c->resp);
	return r == UKT_MECH_OK && !c->resp->failed ? UK_SW_OK
	       : r == UKT_MECH_BAD_INPUT ? UK_SW_WRONG_DATA : UK_SW_UNKNOWN;
}

/* PERFORM SECURITY OPERATION, ISO 7816-8 §5.4 COMPUTE DIGITAL SIGNATURE (P1 P2 9E 9A) and
 * §5.8 DECIPHER (80 86); payload KR || mech || data, so one APDU names key and mechanism
 * (no MSE SET). Mechanisms and their data lengths: ukt_alg.c, docs/apdu.md. */
uint16_t ukt_cmd_pso(ukt_card *card, ukt_cmd *c)
{
	uint8_t op = c->apdu->p1 == 0x9E ? UKT_PSO_SIGN : UKT_PSO_DECIPHER;
	const ukt_keypair *k;
	const ukt_mech *m;
	size_t n;
	unsigned kr;
	uint16_t sw;

	if (c->len < 2)
		return UK_SW_WRONG_LENGTH;
	kr = c->data[0];
	if (kr >= UKT_MAX_KEYS || !card->st.cont[kr / 2].present)
		return UK_SW_REF_NOT_FOUND;
	k = &card->st.cont[kr / 2].pair[kr % 2];
	if (!k->present)
		return UK_SW_REF_NOT_FOUND;
	m = ukt_mech_find(c->data[1], op);
	if (m == NULL || m->alg != k->alg)
		return UK_SW_WRONG_DATA;
	n = c->len - 2;
	if (n < m->min || n > m->max || (m->len_ok != NULL && !m->len_ok(n)))
		return UK_SW_WRONG_LENGTH;
	/* always-authenticate key (PKCS#11 CKA_ALWAYS_AUTHENTICATE): one use per user VERIFY
	 * in this session */
	if (k->always_auth && !c->sess->aa_grant)
		return UK_SW_SECURITY_STATUS;
	if (op == UKT_PSO_SIGN) {
		sw = le_check(c->apdu, ukt_alg_find(k->alg)->sig_len);
		if (sw != UK_SW_OK)
			return sw;
		/* A second-generation key signs only once its holder pressed the button. */
		if (card->confirm != NULL && card->confirm(card->confirm_arg) != 0)
			return UK_SW_CONDITIONS;
	}
	if (!c->sess->has_tk)
		return UK_SW_SECURITY_STATUS;
	if (k->always_auth)
		c->sess->aa_grant = 0;  /* used even if the operation then fails */
	return pso_run(c->sess, kr, k, m, c);
}

/* GET CHALLENGE, ISO 7816-4 §11.5.3: Ne bytes (1..256) from OpenSSL's public DRBG (a
 * challenge is sent in clear; RAND_bytes is OpenSSL's generator for public values). Le is
 * required: absent or above 256, 6700; a data field, 6700. */
uint16_t ukt_cmd_get_challenge(ukt_card *card, ukt_cmd *c)
{
	uint8_t *p;

	(void)card;
	if (c->len != 0 || !c->apdu->has_le || c->apdu->le == 0 ||
	    c->apdu->le > UKT_SHORT_NE_MAX)
		return UK_SW_WRONG_LENGTH;
	p = uk_buf_extend(c->resp, c->apdu->le);
	if (p == NULL || RAND_bytes(p, (int)c->apdu->le) != 1)
		return UK_SW_UNKNOWN;
	return UK_SW_OK;
}
