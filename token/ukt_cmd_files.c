/* ukey token: instruction handlers for files and container deletion (docs/apdu.md "Files",
 * "DELETE CONTAINER"). The dispatcher (ukt_card.c) has checked class, selection, secure
 * messaging, P1 P2 and the user PIN where the table asks for it; these handlers check the
 * data field and call the file store (ukt_files.c). */
#include "ukt_internal.h"
#include "ukt_files.h"

#include <string.h>

#include "uk_tlv.h"
#include "uk_wipe.h"

#define SW_END_OF_FILE 0x6282           /* ISO 7816-4 §5.6: end of file before Ne bytes */
#define RESP_DATA_MAX (UKT_RESP_MAX - 2u)

/* SELECT, ISO 7816-4 §11.1.1: P1 04 the application by AID (ukt_cmd.c); P1 02 P2 0C an EF
 * under it by file identifier, no FCI returned. */
uint16_t ukt_cmd_select_any(ukt_card *card, ukt_cmd *c)
{
	uint16_t sw;

	if (c->apdu->p1 == 0x04) {
		sw = ukt_cmd_select(card, c);
		if (sw == UK_SW_OK)
			ukt_files_deselect(card);
		return sw;
	}
	if (!card->selected)
		return UK_SW_CONDITIONS;
	if (c->len != 2)
		return UK_SW_WRONG_LENGTH;
	return ukt_files_select(card, uk_get_u16(c->data));
}

/* A TLV whose value is a big-endian number of 1 to 4 bytes. */
static int tlv_number(const uk_tlv *t, size_t maxlen, size_t *v)
{
	size_t i;

	if (t->len == 0 || t->len > maxlen)
		return -1;
	*v = 0;
	for (i = 0; i < t->len; i++)
		*v = *v << 8 | t->value[i];
	return 0;
}

/* CREATE FILE (proprietary P1 01; GM/T 0016 SKF_CreateFile, SKF_ImportCertificate's
 * allocation): 83 02 fid, 80 size (1-4 bytes), 84 name (data files only). */
static uint16_t create_file(ukt_card *card, ukt_cmd *c)
{
	const uint8_t *p = c->data, *end = c->data + c->len;
	uk_tlv t, fid = { 0 }, size = { 0 }, name = { 0 };
	size_t n = 0;
	int r;

	while ((r = uk_tlv_next(&p, end, &t)) == 1) {
		uk_tlv *slot = t.tag == 0x83 ? &fid : t.tag == 0x80 ? &size
		                                  : t.tag == 0x84 ? &name : NULL;
		if (slot == NULL || slot->value != NULL)
			return UK_SW_WRONG_DATA;        /* unknown or repeated tag */
		*slot = t;
	}
	if (r != 0 || fid.value == NULL || fid.len != 2 || size.value == NULL ||
	    tlv_number(&size, 4, &n) != 0)
		return UK_SW_WRONG_DATA;
	if (name.value != NULL && name.len == 0)
		return UK_SW_WRONG_DATA;
	return ukt_files_create(card, uk_get_u16(fid.value), n, name.value, name.len);
}

uint16_t ukt_cmd_create_any(ukt_card *card, ukt_cmd *c)
{
	return c->apdu->p1 == 0x00 ? ukt_cmd_create_container(card, c) : create_file(card, c);
}

/* The payload of DELETE FILE / DELETE CONTAINER: exactly one TLV with the given tag. */
static int single_tlv(const ukt_cmd *c, unsigned tag, size_t len, uk_tlv *t)
{
	const uint8_t *p = c->data;

	return uk_tlv_next(&p, c->data + c->len, t) == 1 && t->tag == tag && t->len == len &&
	       p == c->data + c->len ? 0 : -1;
}

/* DELETE CONTAINER (proprietary P1 01; GM/T 0016 SKF_DeleteContainer, SPEC S0-K9): the
 * container and its key pairs leave the state, which is written before the answer (the
 * sealed private keys are no longer in the state file); then its certificates are
 * unlinked. A crash in between leaves orphan certificates that are never served and are
 * removed at the next open (ukt_files.c). */
static uint16_t delete_container(ukt_card *card, ukt_cmd *c)
{
	ukt_state next;
	uk_tlv t;
	uint16_t sw;
	unsigned idx;

	if (single_tlv(c, 0x80, 1, &t) != 0 || t.value[0] >= UKT_MAX_CONTAINERS)
		return UK_SW_WRONG_DATA;
	idx = t.value[0];
	if (!card->st.cont[idx].present)
		return UK_SW_REF_NOT_FOUND;
	memcpy(&next, &card->st, sizeof(next));
	/* the whole entry: name, both pairs (sealed scalars, points), present flags */
	uk_wipe(&next.cont[idx], sizeof(next.cont[idx]));
	sw = ukt_state_commit(card, &next);
	ukt_state_wipe(&next);
	if (sw == UK_SW_OK)
		ukt_files_drop_container(card, idx);
	return sw;
}

/* DELETE FILE (proprietary P1 00; GM/T 0016 SKF_DeleteFile): 83 02 fid. */
static uint16_t delete_file(ukt_card *card, ukt_cmd *c)
{
	uk_tlv t;

	if (single_tlv(c, 0x83, 2, &t) != 0)
		return UK_SW_WRONG_DATA;
	return ukt_files_delete(card, uk_get_u16(t.value));
}

uint16_t ukt_cmd_delete_any(ukt_card *card, ukt_cmd *c)
{
	return c->apdu->p1 == 0x00 ? delete_file(card, c) : delete_container(card, c);
}

/* ---- READ BINARY / UPDATE BINARY, ISO 7816-4 §11.2.3 / §11.2.5 ---- */

/* Ne of a read, and whether Le was the "all available" value (absent, short 00, extended
 * 0000): ISO 7816-4 §11.2.3 reads to the end of the file within that limit. An absent Le
 * may take a whole frame: the transport pages what a short answer cannot carry. */
static size_t read_limit(const uk_apdu *a, int *wildcard)
{
	*wildcard = !a->has_le || a->le == (a->extended ? UK_APDU_MAX_NE : UKT_SHORT_NE_MAX);
	if (!a->has_le || a->le > RESP_DATA_MAX)
		return RESP_DATA_MAX;
	return a->le;
}

/* Largest content that fits limit bytes once wrapped as 53 L data (odd INS). */
static size_t wrapped_room(size_t limit)
{
	if (limit >= 4 + 256)
		return limit - 4;
	if (limit >= 3 + 128)
		return limit - 3 > 255 ? 255 : limit - 3;
	return limit >= 2 ? (limit - 2 > 127 ? 127 : limit - 2) : 0;
}

/* Offset data object 54 (1-3 bytes) of the odd instructions; *rest = what follows it. */
static int offset_do(const ukt_cmd *c, size_t *off, const uint8_t **rest)
{
	const uint8_t *p = c->data;
	uk_tlv t;

	if (uk_tlv_next(&p, c->data + c->len, &t) != 1 || t.tag != 0x54 ||
	    tlv_number(&t, 3, off) != 0)
		return -1;
	*rest = p;
	return 0;
}

/* READ BINARY: B0 with a 15-bit offset in P1 P2; B1 (odd INS, offsets past 32,767) with
 * 54 <offset> in the data field and the answer wrapped in 53. Explicit Le past the end of
 * the file: the bytes up to it and 6282. */
uint16_t ukt_cmd_read_binary(ukt_card *card, ukt_cmd *c)
{
	const uint8_t *rest;
	int odd = c->apdu->ins & 1, wildcard, eof = 0;
	size_t off, limit = read_limit(c->apdu, &wildcard);
	uk_buf data;
	uint16_t sw;

	uk_buf_init(&data, 0, 0);
	if (!odd) {
		off = (size_t)(c->apdu->p1 << 8 | c->apdu->p2);
		sw = c->len == 0 ? ukt_files_read(card, off, limit, c->resp, &eof)
		                 : UK_SW_WRONG_LENGTH;
	} else if (offset_do(c, &off, &rest) != 0 || rest != c->data + c->len) {
		sw = c->len == 0 ? UK_SW_WRONG_LENGTH : UK_SW_WRONG_DATA;
	} else {
		sw = ukt_files_read(card, off, wrapped_room(limit), &data, &eof);
		if (sw == UK_SW_OK && uk_tlv_put(c->resp, 0x53, data.data, data.len) != 0)
			sw = UK_SW_UNKNOWN;
	}
	uk_buf_free(&data);
	if (sw == UK_SW_OK && eof && (!wildcard || c->resp->len <= (odd ? 2u : 0u)))
		sw = SW_END_OF_FILE;
	return sw;
}

/* UPDATE BINARY: D6 (15-bit offset in P1 P2, data = the bytes) or D7 (54 <offset>
 * 53 <bytes>). Each command is one atomic write of the file. */
uint16_t ukt_cmd_update_binary(ukt_card *card, ukt_cmd *c)
{
	const uint8_t *rest;
	size_t off;
	uk_tlv d;

	if (!(c->apdu->ins & 1)) {
		off = (size_t)(c->apdu->p1 << 8 | c->apdu->p2);
		if (c->len == 0)
			return UK_SW_WRONG_LENGTH;
		return ukt_files_write(card, off, c->data, c->len);
	}
	if (c->len == 0)
		return UK_SW_WRONG_LENGTH;      /* as D6 and B1 */
	if (offset_do(c, &off, &rest) != 0 || uk_tlv_next(&rest, c->data + c->len, &d) != 1 ||
	    d.tag != 0x53 || rest != c->data + c->len || d.len == 0)
		return UK_SW_WRONG_DATA;
	return ukt_files_write(card, off, d.value, d.len);
}
