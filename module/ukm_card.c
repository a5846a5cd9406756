/* ukey module: the card connection, APDU exchange, the status word table and the card cache
 * (GET DATA 00 device information, 01 PIN status, 02 containers; docs/apdu.md).
 *
 * The cache lives as long as the card stays in the reader (same pcsc-lite event counter);
 * the module's own writes and failed logins refresh the parts they change. */
#include <stdlib.h>
#include <string.h>

#include "uk_apdu.h"
#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukm.h"

static const uint8_t ukm_aid[] = { 0xF0, 0x75, 0x6B, 0x65, 0x79, 0x01 };

/* Status words of docs/apdu.md -> CK_RV: the only place this mapping is made. */
static const struct {
	uint16_t sw, mask;
	CK_RV rv;
} ukm_sw_map[] = {
	{ UK_SW_OK, 0xFFFF, CKR_OK },
	{ UK_SW_TRIES_LEFT, 0xFFF0, CKR_PIN_INCORRECT },        /* 63Cx */
	{ UK_SW_AUTH_BLOCKED, 0xFFFF, CKR_PIN_LOCKED },         /* 6983 */
	{ UK_SW_SECURITY_STATUS, 0xFFFF, CKR_USER_NOT_LOGGED_IN }, /* 6982 */
	/* 6984: the user PIN REINITIALISE left uninitialised (docs/apdu.md VERIFY) */
	{ UK_SW_DATA_INVALID, 0xFFFF, CKR_USER_PIN_NOT_INITIALIZED },
	/* 6988: unknown/evicted secure session or refused MAC: the login it carried is gone */
	{ UK_SW_SM_INCORRECT, 0xFFFF, CKR_USER_NOT_LOGGED_IN },
	{ UK_SW_MEMORY_FAILURE, 0xFFFF, CKR_DEVICE_MEMORY },
	{ UK_SW_NO_SPACE, 0xFFFF, CKR_DEVICE_MEMORY },
	{ UK_SW_WRONG_DATA, 0xFFFF, CKR_DATA_INVALID },
	{ UK_SW_REF_NOT_FOUND, 0xFFFF, CKR_KEY_HANDLE_INVALID },
	{ UK_SW_ALREADY_EXISTS, 0xFFFF, CKR_FUNCTION_FAILED },
	{ UK_SW_NOT_FOUND, 0xFFFF, CKR_TOKEN_NOT_RECOGNIZED },
	{ UK_SW_WRONG_LENGTH, 0xFFFF, CKR_DEVICE_ERROR },
	{ UK_SW_SM_MISSING, 0xFFFF, CKR_DEVICE_ERROR },
	{ UK_SW_CONDITIONS, 0xFFFF, CKR_DEVICE_ERROR },
};

CK_RV ukm_sw_to_rv(uint16_t sw)
{
	size_t i;

	for (i = 0; i < sizeof(ukm_sw_map) / sizeof(ukm_sw_map[0]); i++)
		if ((sw & ukm_sw_map[i].mask) == ukm_sw_map[i].sw)
			return ukm_sw_map[i].rv;
	return CKR_DEVICE_ERROR;
}

void ukm_rapdu_wipe(ukm_rapdu *r)
{
	uk_wipe(r->data, r->len + 2 <= sizeof(r->data) ? r->len + 2 : sizeof(r->data));
	r->len = 0;
	r->sw = 0;
}

/* One SCardTransmit; 61xx answers are collected with GET RESPONSE (ISO 7816-4 §7.1.3,
 * needed on T=0 readers). Returns the PC/SC code. */
static LONG ukm_card_xfer(ukm_slot *s, const uint8_t *apdu, size_t len, ukm_rapdu *r)
{
	const SCARD_IO_REQUEST *pci = s->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 :
	                                                                 SCARD_PCI_T1;
	uint8_t getresp[5] = { 0x00, 0xC0, 0x00, 0x00, 0x00 };
	DWORD rlen;
	LONG rc;

	r->len = 0;
	for (;;) {
		rlen = (DWORD)(sizeof(r->data) - r->len);
		ukm_apdu_counted(s);
		rc = SCardTransmit(s->card, pci, apdu, (DWORD)len, NULL, r->data + r->len, &rlen);
		if (rc != SCARD_S_SUCCESS)
			return rc;
		if (rlen < 2)
			return SCARD_F_UNKNOWN_ERROR;
		r->len += rlen - 2;
		r->sw = uk_get_u16(r->data + r->len);
		/* A GET RESPONSE answered by 61xx with no data made no progress: a card that
		 * keeps doing so would hold the caller for ever; its 61xx stands as the SW. */
		if ((r->sw & 0xFF00) != UK_SW_BYTES_REMAINING || r->len + 258 > sizeof(r->data) ||
		    (apdu == getresp && rlen == 2))
			return SCARD_S_SUCCESS;
		getresp[4] = (uint8_t)r->sw;
		apdu = getresp;
		len = sizeof(getresp);
	}
}

/* The key left during an exchange that failed with rc (or pcscd says so within 700 ms).
 * pcscd stopping or restarting counts too: the card handle and the card's login are lost
 * with it, and the slot comes back (same ID) once pcscd lists the reader again. A handle
 * of the old pcscd, used after another thread re-established the context, is refused by
 * the new one (pcsc-lite 1.9.9) with SCARD_W_SECURITY_VIOLATION. */
static int ukm_card_gone(ukm_slot *s, LONG rc)
{
	return rc == SCARD_W_REMOVED_CARD || rc == SCARD_E_NO_SMARTCARD ||
	       rc == SCARD_E_READER_UNAVAILABLE || rc == SCARD_E_UNKNOWN_READER ||
	       rc == SCARD_W_SECURITY_VIOLATION || ukm_pcsc_context_lost(rc) ||
	       ukm_pcsc_card_gone(s, 700);
}

/* A key pulled out: its sessions are closed and the slot forgets it (PKCS#11 3.0 §5.6:
 * CKR_DEVICE_REMOVED from the call that found out). */
static CK_RV ukm_card_removed(ukm_slot *s)
{
	ukm_session_close_slot(s, 0);
	ukm_card_forget(s, 1);
	s->card_present = 0;
	s->epoch++;
	return CKR_DEVICE_REMOVED;
}

/* ISO 7816-4 §11.1.1 SELECT by AID; 6A82 means this is not a ukey card. */
static CK_RV ukm_card_select(ukm_slot *s)
{
	static ukm_rapdu resp;          /* 64 KiB; the library lock serialises its use */
	uint8_t apdu[5 + sizeof(ukm_aid) + 1] = { 0x00, 0xA4, 0x04, 0x00, sizeof(ukm_aid) };
	ukm_rapdu *r = &resp;
	CK_RV rv;
	LONG rc;

	memcpy(apdu + 5, ukm_aid, sizeof(ukm_aid));
	rc = ukm_card_xfer(s, apdu, sizeof(apdu), r);
	if (rc != SCARD_S_SUCCESS) {
		rv = ukm_card_gone(s, rc) ? ukm_card_removed(s) : CKR_DEVICE_ERROR;
		goto out;
	}
	if (r->sw != UK_SW_OK) {
		s->not_ukey = 1;
		rv = CKR_TOKEN_NOT_RECOGNIZED;
		goto out;
	}
	s->selected = 1;
	rv = CKR_OK;
out:
	ukm_rapdu_wipe(r);
	return rv;
}

static CK_RV ukm_card_connect(ukm_slot *s)
{
	LONG rc;

	rc = SCardConnect(ukm_pcsc_context(), s->reader, SCARD_SHARE_SHARED,
	                  SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, &s->card, &s->protocol);
	/* no card, or no reader or pcscd any more (restarting): the token is not there now */
	if (rc == SCARD_E_NO_SMARTCARD || rc == SCARD_W_REMOVED_CARD ||
	    rc == SCARD_E_READER_UNAVAILABLE || rc == SCARD_E_UNKNOWN_READER ||
	    ukm_pcsc_context_lost(rc))
		return CKR_TOKEN_NOT_PRESENT;
	if (rc != SCARD_S_SUCCESS) {
		uk_log(UK_LOG_ERROR, "module", "SCardConnect: 0x%lx", (unsigned long)rc);
		return CKR_DEVICE_ERROR;
	}
	s->connected = 1;
	s->selected = 0;
	/* A fresh connection may follow a power-down: no secure session survives that. */
	ukm_secure_drop(s);
	return CKR_OK;
}

CK_RV ukm_card_open(ukm_slot *s)
{
	CK_RV rv;

	if (!s->listed || !s->card_present)
		return CKR_TOKEN_NOT_PRESENT;
	if (s->not_ukey)
		return CKR_TOKEN_NOT_RECOGNIZED;
	if (!s->connected && (rv = ukm_card_connect(s)) != CKR_OK)
		return rv;
	if (!s->selected && (rv = ukm_card_select(s)) != CKR_OK) {
		ukm_card_idle(s);
		return rv;
	}
	return CKR_OK;
}

void ukm_card_idle(ukm_slot *s)
{
	if (!s->connected || s->session_count > 0)
		return;
	SCardDisconnect(s->card, SCARD_LEAVE_CARD);
	s->connected = 0;
	s->selected = 0;
	ukm_secure_drop(s);
}

void ukm_card_forget(ukm_slot *s, int talk)
{
	if (s->connected && talk)
		SCardDisconnect(s->card, SCARD_LEAVE_CARD);
	s->connected = 0;
	s->selected = 0;
	ukm_secure_drop(s);
	ukm_card_files_forget(&s->cache);
	uk_wipe(&s->cache, sizeof(s->cache));
}

/* Another client reset the card (ISO 7816-3 warm reset): the application is deselected
 * and every secure session, hence our login, is gone; the card itself is the same. */
static void ukm_card_was_reset(ukm_slot *s)
{
	DWORD proto = 0;        /* pcsc-lite 1.9 sends its value to pcscd: never uninitialised */

	if (SCardReconnect(s->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
	                   SCARD_LEAVE_CARD, &proto) == SCARD_S_SUCCESS) {
		s->protocol = proto;
	} else {
		SCardDisconnect(s->card, SCARD_LEAVE_CARD);
		s->connected = 0;
	}
	s->selected = 0;
	ukm_secure_drop(s);
	s->cache.have_pins = 0;
}

CK_RV ukm_card_transmit(ukm_slot *s, const uint8_t *apdu, size_t len, int secured,
                        ukm_rapdu *r)
{
	CK_RV rv;
	LONG rc;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rv = ukm_card_open(s)) != CKR_OK)
			return rv;
		uk_log_apdu(UK_LOG_DEBUG, "module", ">>", apdu, len);
		rc = ukm_card_xfer(s, apdu, len, r);
		if (rc == SCARD_S_SUCCESS) {
			uk_log(UK_LOG_DEBUG, "module", "<< SW %04X (%zu bytes)", r->sw, r->len);
			return CKR_OK;
		}
		if (rc == SCARD_W_RESET_CARD) {
			ukm_card_was_reset(s);
			if (secured)
				return CKR_USER_NOT_LOGGED_IN;
			continue;
		}
		if (ukm_card_gone(s, rc))
			return ukm_card_removed(s);
		uk_log(UK_LOG_ERROR, "module", "SCardTransmit: 0x%lx", (unsigned long)rc);
		return CKR_DEVICE_ERROR;
	}
	return CKR_DEVICE_ERROR;
}

CK_RV ukm_card_command(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                       const uint8_t *data, size_t n, int want_le, ukm_rapdu *r)
{
	uk_apdu a = { .cla = cla, .ins = ins, .p1 = p1, .p2 = p2, .data = data, .lc = n };
	uk_buf raw;
	CK_RV rv;

	uk_buf_init(&raw, UK_APDU_MAX_RAW, 1);
	if (want_le > 0) {
		a.has_le = 1;
		a.le = (size_t)want_le;
	}
	if (uk_apdu_encode(&a, &raw) != 0) {
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	rv = ukm_card_transmit(s, raw.data, raw.len, (cla & UK_SM_CLA_BIT) != 0, r);
out:
	uk_buf_free(&raw);
	return rv;
}

/* ---- GET DATA parsers (docs/apdu.md "GET DATA") ---- */

static void ukm_copy_text(char *dst, size_t cap, const uk_tlv *t)
{
	size_t n = t->len < cap - 1 ? t->len : cap - 1;

	memcpy(dst, t->value, n);
	dst[n] = '\0';
}

int ukm_parse_devinfo(const uint8_t *p, size_t n, ukm_card_cache *c)
{
	const uint8_t *end = p + n;
	uk_tlv t;
	int r;

	while ((r = uk_tlv_next(&p, end, &t)) == 1) {
		if (t.tag == 0x80 && t.len == 20)
			ukm_copy_text(c->serial, sizeof(c->serial), &t);
		else if (t.tag == 0x81)
			ukm_copy_text(c->label, sizeof(c->label), &t);
		else if (t.tag == 0x82 && t.len == 1)
			c->zone = t.value[0];
		else if (t.tag == 0x83)
			ukm_copy_text(c->manufacturer, sizeof(c->manufacturer), &t);
		else if (t.tag == 0x84)
			ukm_copy_text(c->model, sizeof(c->model), &t);
		else if (t.tag == 0x85 && t.len == 2) {
			c->fw_major = t.value[0];
			c->fw_minor = t.value[1];
		} else if (t.tag == 0x86 && t.len == 4)
			c->free_space = uk_get_u32(t.value);
		else if (t.tag == 0x89 && t.len == 1)
			c->features = t.value[0];   /* bit 1 pinpad: protected auth path */
	}
	if (r < 0 || c->serial[0] == '\0')
		return -1;
	c->have_info = 1;
	return 0;
}

int ukm_parse_pins(const uint8_t *p, size_t n, ukm_card_cache *c)
{
	uk_tlv u, so;

	if (uk_tlv_find(p, n, 0x81, &u) != 1 || u.len != 3 ||
	    uk_tlv_find(p, n, 0x82, &so) != 1 || so.len != 3)
		return -1;
	c->user.tries = u.value[0];
	c->user.max = u.value[1];
	c->user.flags = u.value[2];
	c->so.tries = so.value[0];
	c->so.max = so.value[1];
	c->so.flags = so.value[2];
	c->have_pins = 1;
	return 0;
}

/* A4/A5 { 80 01 <alg>, 7F49 {...} } (docs/apdu.md GET DATA 02 and the public-key template,
 * ISO 7816-8 §5.1 table 3): SM2 and P-256 7F49 { 86 <04||X||Y> }, RSA-2048
 * 7F49 { 81 <n, 256 bytes>, 82 <e> }. A pair of an algorithm this module does not know is
 * left out, not an error (a newer card may offer more). */
static int ukm_parse_rsa(const uk_tlv *pk, ukm_keypair *kp)
{
	uk_tlv n, e;

	if (uk_tlv_find(pk->value, pk->len, 0x81, &n) != 1 || n.len != UKM_RSA_LEN ||
	    !(n.value[0] & 0x80) ||
	    uk_tlv_find(pk->value, pk->len, 0x82, &e) != 1 || e.len == 0 || e.len > sizeof(kp->e))
		return -1;
	memcpy(kp->n, n.value, UKM_RSA_LEN);
	memset(kp->e, 0, sizeof(kp->e));
	memcpy(kp->e + sizeof(kp->e) - e.len, e.value, e.len);
	return 0;
}

static int ukm_parse_keypair(const uk_tlv *t, ukm_keypair *kp)
{
	uk_tlv alg, pk, pt;

	if (uk_tlv_find(t->value, t->len, 0x80, &alg) != 1 || alg.len != 1)
		return -1;
	if (alg.value[0] != UKM_ALG_SM2 && alg.value[0] != UKM_ALG_P256 &&
	    alg.value[0] != UKM_ALG_RSA)
		return 0;
	if (uk_tlv_find(t->value, t->len, 0x7F49, &pk) != 1)
		return -1;
	if (alg.value[0] == UKM_ALG_RSA) {
		if (ukm_parse_rsa(&pk, kp) != 0)
			return -1;
	} else if (uk_tlv_find(pk.value, pk.len, 0x86, &pt) != 1 ||
	           pt.len != UK_SM2_POINT_LEN || pt.value[0] != 0x04) {
		return -1;
	} else {
		memcpy(kp->point, pt.value, UK_SM2_POINT_LEN);
	}
	kp->present = 1;
	kp->alg = alg.value[0];
	/* 82 01 01: always authenticate (CKA_ALWAYS_AUTHENTICATE, docs/apdu.md GET DATA 02) */
	kp->always_auth = uk_tlv_find(t->value, t->len, 0x82, &pt) == 1 && pt.len == 1 &&
	                  pt.value[0] == 0x01;
	return 0;
}

/* Tags 86/87: the lengths of the certificates C0 KR (docs/apdu.md GET DATA 02); absent or
 * malformed: no certificate. */
static void ukm_parse_cert_lens(const uk_tlv *a0, ukm_container *ct)
{
	uk_tlv t;
	int u;

	for (u = 0; u < 2; u++)
		if (uk_tlv_find(a0->value, a0->len, 0x86u + (unsigned)u, &t) == 1 && t.len == 2)
			ct->cert_len[u] = uk_get_u16(t.value);
}

static int ukm_parse_container(const uk_tlv *a0, ukm_card_cache *c)
{
	ukm_container tmp, *ct;
	uk_tlv idx, name, kp;

	memset(&tmp, 0, sizeof(tmp));
	if (uk_tlv_find(a0->value, a0->len, 0x80, &idx) != 1 || idx.len != 1 ||
	    idx.value[0] >= UKM_MAX_CONTAINERS ||
	    uk_tlv_find(a0->value, a0->len, 0x81, &name) != 1 || name.len == 0 ||
	    name.len > UKM_NAME_MAX)
		return -1;
	tmp.present = 1;
	tmp.index = idx.value[0];
	memcpy(tmp.name, name.value, name.len);
	tmp.name_len = name.len;
	if (uk_tlv_find(a0->value, a0->len, 0xA4, &kp) == 1 &&
	    ukm_parse_keypair(&kp, &tmp.pair[0]) != 0)
		return -1;
	if (uk_tlv_find(a0->value, a0->len, 0xA5, &kp) == 1 &&
	    ukm_parse_keypair(&kp, &tmp.pair[1]) != 0)
		return -1;
	ukm_parse_cert_lens(a0, &tmp);
	ct = &c->cont[tmp.index];
	*ct = tmp;
	return 0;
}

int ukm_parse_containers(const uint8_t *p, size_t n, ukm_card_cache *c)
{
	const uint8_t *end = p + n;
	uk_tlv t;
	int r;

	memset(c->cont, 0, sizeof(c->cont));
	while ((r = uk_tlv_next(&p, end, &t)) == 1)
		if (t.tag == 0xA0 && ukm_parse_container(&t, c) != 0)
			return -1;
	if (r < 0)
		return -1;
	c->have_containers = 1;
	return 0;
}

/* ---- loading the cache ---- */

static CK_RV ukm_card_get_data(ukm_slot *s, uint8_t p2,
                               int (*parse)(const uint8_t *, size_t, ukm_card_cache *))
{
	static ukm_rapdu r;             /* 64 KiB; the library lock serialises its use */
	CK_RV rv;

	rv = ukm_card_command(s, 0x00, 0xCA, 0x01, p2, NULL, 0, p2 >= 0x02 ? 65536 : 256, &r);
	if (rv != CKR_OK)
		goto out;
	if (r.sw != UK_SW_OK) {
		rv = ukm_sw_to_rv(r.sw);
		goto out;
	}
	if (parse(r.data, r.len, &s->cache) != 0)
		rv = CKR_DEVICE_ERROR;
out:
	ukm_rapdu_wipe(&r);
	return rv;
}

CK_RV ukm_card_load_pins(ukm_slot *s)
{
	return ukm_card_get_data(s, 0x01, ukm_parse_pins);
}

CK_RV ukm_card_load_containers(ukm_slot *s)
{
	return ukm_card_get_data(s, 0x02, ukm_parse_containers);
}

/* Only GET DATA 00 (serial, label...): what C_GetSlotInfo needs for its description. */
CK_RV ukm_card_load_info(ukm_slot *s)
{
	CK_RV rv = CKR_OK;

	if (!s->cache.have_info)
		rv = ukm_card_get_data(s, 0x00, ukm_parse_devinfo);
	return rv;
}

CK_RV ukm_card_load(ukm_slot *s)
{
	CK_RV rv = CKR_OK;

	if (!s->cache.have_info)
		rv = ukm_card_get_data(s, 0x00, ukm_parse_devinfo);
	if (rv == CKR_OK && !s->cache.have_pins)
		rv = ukm_card_load_pins(s);
	if (rv == CKR_OK && !s->cache.have_containers)
		rv = ukm_card_load_containers(s);
	/* The data file list too: the whole object list is then cached with the token, so a
	 * warm C_FindObjects costs no APDU (docs/pkcs11-profile.md "APDU budget"). */
	if (rv == CKR_OK && !s->cache.have_files)
		rv = ukm_card_load_files(s);
	/* The (shared) connection is kept until the last session closes, C_Finalize or a card
	 * event: dropping it here would make the next command re-SELECT (pcscd may have powered
	 * the card down meanwhile), so a C_Login after C_GetTokenInfo would cost 3 APDUs. */
	return rv;
}

/* ---- files: certificates C0 KR and data files D0 nn (docs/apdu.md "Files") ---- */

static ukm_rapdu ukm_file_resp;         /* 64 KiB; the library lock serialises its use */
#define UKM_SW_EOF_REACHED 0x6282   /* ISO 7816-4 §5.6: end of file before Ne bytes */

/* A1 { 83 02 <fid>, 84 <name>, 80 04 <size>, 81 04 <length> } of GET DATA 01 03. */
static int ukm_parse_data_file(const uk_tlv *a1, ukm_card_cache *c)
{
	uk_tlv fid, name, size, len;
	ukm_data_file *f;

	if (uk_tlv_find(a1->value, a1->len, 0x83, &fid) != 1 || fid.len != 2 ||
	    fid.value[0] != 0xD0 || fid.value[1] >= UKM_MAX_DATA_FILES ||
	    uk_tlv_find(a1->value, a1->len, 0x84, &name) != 1 || name.len == 0 ||
	    name.len > UKM_DATA_NAME_MAX ||
	    uk_tlv_find(a1->value, a1->len, 0x80, &size) != 1 || size.len != 4 ||
	    uk_tlv_find(a1->value, a1->len, 0x81, &len) != 1 || len.len != 4)
		return -1;
	f = &c->data[fid.value[1]];
	f->present = 1;
	memcpy(f->name, name.value, name.len);
	f->name[name.len] = '\0';
	f->name_len = name.len;
	f->size = uk_get_u32(size.value);
	f->length = uk_get_u32(len.value);
	if (f->length > f->size || f->size > UKM_DATA_MAX)
		return -1;
	return 0;
}

int ukm_parse_files(const uint8_t *p, size_t n, ukm_card_cache *c)
{
	const uint8_t *end = p + n;
	uk_tlv t;
	int r;

	memset(c->data, 0, sizeof(c->data));
	while ((r = uk_tlv_next(&p, end, &t)) == 1)
		if (t.tag == 0xA1 && ukm_parse_data_file(&t, c) != 0)
			return -1;
	if (r < 0)
		return -1;
	c->have_files = 1;
	return 0;
}

CK_RV ukm_card_load_files(ukm_slot *s)
{
	return ukm_card_get_data(s, 0x03, ukm_parse_files);
}

void ukm_card_files_forget(ukm_card_cache *c)
{
	size_t i;

	for (i = 0; i < 2 * UKM_MAX_CONTAINERS; i++) {
		free(c->cert_body[i]);
		c->cert_body[i] = NULL;
		c->cert_body_len[i] = 0;
	}
	c->have_files = 0;
}

/* ISO 7816-4 §11.1.1 SELECT by file identifier, P1 02 P2 0C (no response data). */
static CK_RV ukm_card_select_file(ukm_slot *s, uint16_t fid, ukm_rapdu *r)
{
	const uint8_t id[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
	CK_RV rv;

	rv = ukm_card_command(s, 0x00, 0xA4, 0x02, 0x0C, id, sizeof(id), 0, r);
	if (rv == CKR_OK && r->sw != UK_SW_OK)
		rv = r->sw == UK_SW_NOT_FOUND ? CKR_OBJECT_HANDLE_INVALID : ukm_sw_to_rv(r->sw);
	return rv;
}

/* ISO 7816-4 §11.2.3 READ BINARY with an extended Le "as many as available": B0 with the
 * offset in P1 P2 up to 32,767, B1 with an offset object 54 beyond (answer in 53). */
static CK_RV ukm_card_read_at(ukm_slot *s, size_t off, ukm_rapdu *r, uk_tlv *got)
{
	const uint8_t b1[5] = { 0x54, 0x03, (uint8_t)(off >> 16), (uint8_t)(off >> 8),
		                (uint8_t)off };
	CK_RV rv;

	if (off <= 0x7FFF)
		rv = ukm_card_command(s, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0,
		                      65536, r);
	else
		rv = ukm_card_command(s, 0x00, 0xB1, 0x00, 0x00, b1, sizeof(b1), 65536, r);
	if (rv != CKR_OK)
		return rv;
	if (r->sw != UK_SW_OK && r->sw != UKM_SW_EOF_REACHED)
		return ukm_sw_to_rv(r->sw);
	got->value = r->data;
	got->len = r->len;
	if (off > 0x7FFF && uk_tlv_find(r->data, r->len, 0x53, got) != 1)
		return CKR_DEVICE_ERROR;
	return CKR_OK;
}

static CK_RV ukm_card_read_locked(ukm_slot *s, uint16_t fid, uint8_t *out, size_t len)
{
	ukm_rapdu *r = &ukm_file_resp;
	size_t off = 0;
	uk_tlv got;
	CK_RV rv;

	if ((rv = ukm_card_select_file(s, fid, r)) != CKR_OK)
		goto out;
	while (off < len) {
		if ((rv = ukm_card_read_at(s, off, r, &got)) != CKR_OK)
			goto out;
		if (got.len == 0 || got.len > len - off) {
			rv = CKR_DEVICE_ERROR;      /* the file is not the length the list said */
			goto out;
		}
		memcpy(out + off, got.value, got.len);
		off += got.len;
	}
out:
	ukm_rapdu_wipe(r);
	return rv;
}

/* SELECT and READ BINARY inside one PC/SC transaction: the current file is the card's,
 * shared by every client, so another process must not select between the two. */
CK_RV ukm_card_read_file(ukm_slot *s, uint16_t fid, uint8_t *out, size_t len)
{
	CK_RV rv;

	if ((rv = ukm_card_open(s)) != CKR_OK)
		return rv;
	if (SCardBeginTransaction(s->card) != SCARD_S_SUCCESS)
		return CKR_DEVICE_ERROR;
	rv = ukm_card_read_locked(s, fid, out, len);
	if (s->connected)
		SCardEndTransaction(s->card, SCARD_LEAVE_CARD);
	return rv;
}
